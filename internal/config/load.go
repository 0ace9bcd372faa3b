package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable read by Load.
const EnvPrefix = "HUABIAN_"

// EnvConfig names the YAML file to load when --config is not given.
const EnvConfig = EnvPrefix + "CONFIG"

// ErrHelp is returned by Load when the arguments ask for help (-h, --help).
var ErrHelp = flag.ErrHelp

// Load builds the configuration from defaults, the YAML file named by
// --config or HUABIAN_CONFIG (none is fine), the environment (read through
// env; nil reads nothing) and the flags in args, in rising precedence, then
// validates it. It returns the arguments that are not flags, in order.
//
// Flags may come before, between or after positional arguments, as --name
// value or --name=value (one dash works too); "--" ends the flags. Each yaml
// path is a flag (--http.listen) and an environment variable
// (HUABIAN_HTTP_LISTEN); short aliases such as --http come from the struct's
// flag tags. An empty environment variable counts as unset. A repeated flag
// takes its last value.
func Load(args []string, env func(string) string) (Config, []string, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	p, err := parseArgs(args)
	if err != nil {
		return Config{}, nil, err
	}

	cfg := Defaults()
	file := p.configFile
	if !p.configSet {
		file = env(EnvConfig)
	}
	if file != "" {
		if err := loadFile(&cfg, file); err != nil {
			return Config{}, nil, err
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, nil, err
	}
	v := reflect.ValueOf(&cfg).Elem()
	for _, s := range p.sets {
		if err := s.field.set(v, s.value); err != nil {
			return Config{}, nil, fmt.Errorf("flag %s: %w", s.flag, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return cfg, p.positional, nil
}

// field is one settable leaf of Config, found by reflection.
type field struct {
	path     string // yaml path: "live.dead_after"
	env      string // HUABIAN_LIVE_DEAD_AFTER
	alias    string // short flag from the flag tag ("http"), or ""
	aliasEnv string // environment name of the alias (HUABIAN_HTTP), or ""
	owner    string // Go type holding the field ("Live"), for docs
	goName   string // Go field name ("DeadAfter"), for docs
	index    []int
}

var durationType = reflect.TypeFor[time.Duration]()

// fields lists every leaf of Config in declaration order.
var fields = collectFields(reflect.TypeFor[Config](), "", nil)

// flagIndex maps a flag name (path or alias) to its field.
var flagIndex = func() map[string]*field {
	m := make(map[string]*field, 2*len(fields))
	for i := range fields {
		f := &fields[i]
		m[f.path] = f
		if f.alias != "" {
			m[f.alias] = f
		}
	}
	return m
}()

func collectFields(t reflect.Type, prefix string, index []int) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		path := prefix + name
		idx := append(append([]int(nil), index...), i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			out = append(out, collectFields(sf.Type, path+".", idx)...)
			continue
		}
		f := field{
			path:   path,
			env:    envName(path),
			owner:  t.Name(),
			goName: sf.Name,
			index:  idx,
		}
		if a := sf.Tag.Get("flag"); a != "" && a != path {
			f.alias = a
			if e := envName(a); e != f.env {
				f.aliasEnv = e
			}
		}
		out = append(out, f)
	}
	return out
}

func envName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(name))
}

// set parses s into the field of cfg (a settable Config value).
func (f *field) set(cfg reflect.Value, s string) error {
	v := cfg.FieldByIndex(f.index)
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (use a number with a unit, e.g. 30s or 200ms)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q (use true or false)", s)
		}
		v.SetBool(b)
	case v.CanInt():
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

type flagSet struct {
	flag  string // as typed, without the value
	field *field
	value string
}

type parsedArgs struct {
	sets       []flagSet
	configFile string
	configSet  bool
	positional []string
}

func parseArgs(args []string) (parsedArgs, error) {
	var p parsedArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.positional = append(p.positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			p.positional = append(p.positional, a)
			continue
		}
		typed, value, hasValue := strings.Cut(a, "=")
		name := strings.TrimPrefix(typed[1:], "-")
		if name == "h" || name == "help" {
			return parsedArgs{}, ErrHelp
		}
		var f *field
		if name != "config" {
			f = flagIndex[name]
			if f == nil {
				return parsedArgs{}, fmt.Errorf("unknown flag %s", typed)
			}
		}
		if !hasValue {
			if i+1 >= len(args) {
				return parsedArgs{}, fmt.Errorf("flag %s needs a value", typed)
			}
			i++
			value = args[i]
		}
		if f == nil {
			p.configFile, p.configSet = value, true
			continue
		}
		p.sets = append(p.sets, flagSet{flag: typed, field: f, value: value})
	}
	return p, nil
}

// loadFile decodes the YAML file at path over cfg. Unknown keys are errors.
func loadFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %s", path, oneLine(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: want one YAML document", path)
	}
	return nil
}

// oneLine flattens yaml's multi-line error lists.
func oneLine(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func applyEnv(cfg *Config, env func(string) string) error {
	v := reflect.ValueOf(cfg).Elem()
	for i := range fields {
		f := &fields[i]
		name, s := f.env, env(f.env)
		if f.aliasEnv != "" {
			if a := env(f.aliasEnv); a != "" {
				if s != "" && s != a {
					return fmt.Errorf("env %s=%q and %s=%q disagree; set one", f.aliasEnv, a, f.env, s)
				}
				name, s = f.aliasEnv, a
			}
		}
		if s == "" {
			continue
		}
		if err := f.set(v, s); err != nil {
			return fmt.Errorf("env %s: %w", name, err)
		}
	}
	return nil
}
