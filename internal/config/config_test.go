package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "huabian.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v", err)
	}
	cfg, rest, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load(nil, nil): %v", err)
	}
	if !reflect.DeepEqual(cfg, Defaults()) {
		t.Errorf("Load(nil, nil) = %+v, want Defaults() %+v", cfg, Defaults())
	}
	if len(rest) != 0 {
		t.Errorf("positional = %q, want none", rest)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	const file = "http:\n  listen: \":1001\"\nlive:\n  dead_after: 11s\ndata: /file\n"
	type want struct {
		http      string
		deadAfter time.Duration
		data      string
	}
	tests := []struct {
		name string
		file string // YAML content; "" = no file
		env  map[string]string
		args []string
		want want
	}{
		{
			name: "defaults",
			want: want{":8080", 5 * time.Second, "./data"},
		},
		{
			name: "file over defaults",
			file: file,
			want: want{":1001", 11 * time.Second, "/file"},
		},
		{
			name: "env over defaults",
			env:  map[string]string{"HUABIAN_HTTP_LISTEN": ":2002", "HUABIAN_LIVE_DEAD_AFTER": "22s"},
			want: want{":2002", 22 * time.Second, "./data"},
		},
		{
			name: "env over file",
			file: file,
			env:  map[string]string{"HUABIAN_HTTP_LISTEN": ":2002", "HUABIAN_DATA": "/env"},
			want: want{":2002", 11 * time.Second, "/env"},
		},
		{
			name: "env alias from flag tag",
			file: file,
			env:  map[string]string{"HUABIAN_HTTP": ":2003"},
			want: want{":2003", 11 * time.Second, "/file"},
		},
		{
			name: "empty env is unset",
			file: file,
			env:  map[string]string{"HUABIAN_HTTP_LISTEN": ""},
			want: want{":1001", 11 * time.Second, "/file"},
		},
		{
			name: "flag over env over file",
			file: file,
			env:  map[string]string{"HUABIAN_HTTP_LISTEN": ":2002", "HUABIAN_LIVE_DEAD_AFTER": "22s"},
			args: []string{"--http.listen", ":3003"},
			want: want{":3003", 22 * time.Second, "/file"},
		},
		{
			name: "short flag over env",
			env:  map[string]string{"HUABIAN_HTTP_LISTEN": ":2002"},
			args: []string{"--http=:3004", "--live.dead_after=33s", "--data", "/flag"},
			want: want{":3004", 33 * time.Second, "/flag"},
		},
		{
			name: "single dash flags",
			args: []string{"-http", ":3005", "-data=/flag"},
			want: want{":3005", 5 * time.Second, "/flag"},
		},
		{
			name: "last flag wins",
			args: []string{"--http", ":1", "--http.listen", ":2", "--http", ":3"},
			want: want{":3", 5 * time.Second, "./data"},
		},
		{
			name: "flag over file only",
			file: file,
			args: []string{"--data", "/flag"},
			want: want{":1001", 11 * time.Second, "/flag"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			cfg, _, err := Load(args, envMap(tc.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := want{cfg.HTTP.Listen, cfg.Live.DeadAfter, cfg.Data}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestConfigFileSources(t *testing.T) {
	t.Parallel()
	envFile := writeFile(t, "rtmp:\n  listen: \":1111\"\n")
	flagFile := writeFile(t, "rtmp:\n  listen: \":2222\"\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"none", nil, nil, ":1935"},
		{"env", map[string]string{"HUABIAN_CONFIG": envFile}, nil, ":1111"},
		{"flag over env", map[string]string{"HUABIAN_CONFIG": envFile}, []string{"--config", flagFile}, ":2222"},
		{"empty flag disables env", map[string]string{"HUABIAN_CONFIG": envFile}, []string{"--config="}, ":1935"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, _, err := Load(tc.args, envMap(tc.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.RTMP.Listen; got != tc.want {
				t.Errorf("rtmp.listen = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEveryFieldSettable(t *testing.T) {
	t.Parallel()
	cert, key := writeKeyPair(t)
	// Every leaf must be reachable by flag and env: set each to a valid
	// non-default value and check that it changed.
	value := func(f field) string {
		switch reflect.ValueOf(Defaults()).FieldByIndex(f.index).Interface().(type) {
		case time.Duration:
			return "777ms"
		case int:
			return "77"
		case bool:
			return strconv.FormatBool(!reflect.ValueOf(Defaults()).FieldByIndex(f.index).Bool())
		}
		if f.path == "nats.url" {
			return "nats://example.com:4222"
		}
		if f.path == "log.level" {
			return "debug"
		}
		if f.path == "log.format" {
			return "json"
		}
		if f.path == "http.trusted_proxies" {
			return "10.0.0.0/8, 192.0.2.1"
		}
		if f.path == "http.public_url" {
			return "https://live.example.com"
		}
		if f.path == "http.acme_host" {
			return "live.example.com"
		}
		if f.path == "http.acme_email" {
			return "ops@example.com"
		}
		if f.path == "http.acme_directory" {
			return "https://acme.example.com/directory"
		}
		if strings.HasSuffix(f.path, ".tls_cert") {
			return cert
		}
		if strings.HasSuffix(f.path, ".tls_key") {
			return key
		}
		return "127.0.0.1:7777"
	}
	for _, f := range fields {
		t.Run(f.path, func(t *testing.T) {
			t.Parallel()
			v := value(f)
			args := []string{"--" + f.path, v}
			env := map[string]string{f.env: v}
			if f.path == "http.acme_email" || f.path == "http.acme_directory" {
				args = append(args, "--http.acme_host", "live.example.com")
				env["HUABIAN_HTTP_ACME_HOST"] = "live.example.com"
			}
			if needsCert(f.path) {
				// TLS settings come in pairs and listeners need a certificate.
				for _, kv := range [][2]string{{"http.tls_cert", cert}, {"http.tls_key", key}} {
					if kv[0] != f.path && !strings.HasPrefix(f.path, "rtmps.tls_") {
						args = append(args, "--"+kv[0], kv[1])
						env[flagIndex[kv[0]].env] = kv[1]
					}
				}
				if f.path == "rtmps.tls_cert" || f.path == "rtmps.tls_key" {
					other := map[string]string{"rtmps.tls_cert": "rtmps.tls_key", "rtmps.tls_key": "rtmps.tls_cert"}[f.path]
					args = append(args, "--"+other, value(*flagIndex[other]))
					env[flagIndex[other].env] = value(*flagIndex[other])
				}
			}
			viaFlag, _, err := Load(args, nil)
			if err != nil {
				t.Fatalf("flag: %v", err)
			}
			viaEnv, _, err := Load(nil, envMap(env))
			if err != nil {
				t.Fatalf("env: %v", err)
			}
			def := reflect.ValueOf(Defaults()).FieldByIndex(f.index).Interface()
			for name, cfg := range map[string]Config{"flag": viaFlag, "env": viaEnv} {
				got := reflect.ValueOf(cfg).FieldByIndex(f.index).Interface()
				if reflect.DeepEqual(got, def) {
					t.Errorf("%s did not change %s (still %v)", name, f.path, got)
				}
			}
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, env, alias, aliasEnv string
	}{
		{"data", "HUABIAN_DATA", "", ""},
		{"http.listen", "HUABIAN_HTTP_LISTEN", "http", "HUABIAN_HTTP"},
		{"rtmp.listen", "HUABIAN_RTMP_LISTEN", "rtmp", "HUABIAN_RTMP"},
		{"rtmps.listen", "HUABIAN_RTMPS_LISTEN", "rtmps", "HUABIAN_RTMPS"},
		{"http.tls_cert", "HUABIAN_HTTP_TLS_CERT", "", ""},
		{"srt.listen", "HUABIAN_SRT_LISTEN", "srt", "HUABIAN_SRT"},
		{"webrtc.udp", "HUABIAN_WEBRTC_UDP", "webrtc-udp", ""},
		{"webrtc.tcp", "HUABIAN_WEBRTC_TCP", "webrtc-tcp", ""},
		{"live.dead_after", "HUABIAN_LIVE_DEAD_AFTER", "", ""},
		{"limits.publish_failures_per_minute", "HUABIAN_LIMITS_PUBLISH_FAILURES_PER_MINUTE", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := flagIndex[tc.path]
			if f == nil {
				t.Fatalf("no field %s", tc.path)
			}
			got := [3]string{f.env, f.alias, f.aliasEnv}
			want := [3]string{tc.env, tc.alias, tc.aliasEnv}
			if got != want {
				t.Errorf("env, alias, aliasEnv = %q, want %q", got, want)
			}
		})
	}
}

func TestPositional(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantData string
	}{
		{"flags after", []string{"channel", "create", "demo", "--data", "./d"}, []string{"channel", "create", "demo"}, "./d"},
		{"flags before", []string{"--data", "./d", "channel", "create", "demo"}, []string{"channel", "create", "demo"}, "./d"},
		{"flags between", []string{"channel", "--data=./d", "create", "demo"}, []string{"channel", "create", "demo"}, "./d"},
		{"double dash", []string{"--data", "./d", "--", "create", "--http"}, []string{"create", "--http"}, "./d"},
		{"lone dash is positional", []string{"-", "x"}, []string{"-", "x"}, "./data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, pos, err := Load(tc.args, nil)
			if err != nil {
				t.Fatalf("Load(%q): %v", tc.args, err)
			}
			if !slices.Equal(pos, tc.wantPos) {
				t.Errorf("positional = %q, want %q", pos, tc.wantPos)
			}
			if cfg.Data != tc.wantData {
				t.Errorf("data = %q, want %q", cfg.Data, tc.wantData)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  map[string]string
		args []string
		want string // substring of the error
	}{
		{name: "unknown flag", args: []string{"create", "--bogus", "x"}, want: "unknown flag --bogus"},
		{name: "unknown flag with value", args: []string{"--bogus=1"}, want: "unknown flag --bogus"},
		{name: "flag without value", args: []string{"create", "--data"}, want: "flag --data needs a value"},
		{name: "bad duration flag", args: []string{"--live.grace", "30"}, want: `flag --live.grace: invalid duration "30"`},
		{name: "bad duration env", env: map[string]string{"HUABIAN_LIVE_MAX_LAG": "soon"}, want: `env HUABIAN_LIVE_MAX_LAG: invalid duration "soon"`},
		{name: "bad duration file", file: "live:\n  grace: 30\n", want: "line 2"},
		{name: "bad duration text file", file: "live:\n  grace: soon\n", want: "time.Duration"},
		{name: "bad integer", args: []string{"--limits.publish_failures_per_minute", "ten"}, want: `invalid integer "ten"`},
		{name: "unknown yaml key", file: "http:\n  listen: \":1\"\n  lisen: \":2\"\n", want: "field lisen not found"},
		{name: "unknown yaml section", file: "htp:\n  listen: \":1\"\n", want: "field htp not found"},
		{name: "two documents", file: "data: a\n---\ndata: b\n", want: "one YAML document"},
		{name: "missing file", args: []string{"--config", "/nonexistent/huabian.yaml"}, want: "config file"},
		{name: "bad address", args: []string{"--rtmp", "1935"}, want: `rtmp.listen "1935"`},
		{name: "bad port", args: []string{"--srt", ":99999"}, want: "srt.listen"},
		{name: "empty address", file: "http:\n  listen: \"\"\n", want: "http.listen: empty"},
		{name: "bad level", args: []string{"--log.level", "loud"}, want: `log.level "loud"`},
		{name: "bad format", args: []string{"--log.format", "xml"}, want: `log.format "xml"`},
		{name: "part longer than segment", args: []string{"--hls.part_duration", "2s"}, want: "hls.part_duration 2s"},
		{name: "zero timeout", args: []string{"--live.idle_timeout", "0s"}, want: "live.idle_timeout 0s"},
		{name: "negative limit", args: []string{"--limits.publish_failures_per_minute", "-1"}, want: "must not be negative"},
		{name: "nats listen with url", args: []string{"--nats.url", "nats://a:4222", "--nats.listen", ":4222"}, want: "nats.listen"},
		{name: "bad nats url", args: []string{"--nats.url", "a b"}, want: "nats.url"},
		{name: "env alias conflict", env: map[string]string{"HUABIAN_HTTP": ":1", "HUABIAN_HTTP_LISTEN": ":2"}, want: "disagree"},
		{name: "help", args: []string{"--help"}, want: ErrHelp.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, _, err := Load(args, envMap(tc.env))
			if err == nil {
				t.Fatalf("Load(%q) succeeded, want error containing %q", args, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "-help"} {
		if _, _, err := Load([]string{"create", arg}, nil); !errors.Is(err, ErrHelp) {
			t.Errorf("Load(%q) error = %v, want ErrHelp", arg, err)
		}
	}
}

func TestSeveralProblemsOneLine(t *testing.T) {
	t.Parallel()
	_, _, err := Load([]string{"--log.level", "loud", "--http", "nope"}, nil)
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"log.level", "http.listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestOff(t *testing.T) {
	t.Parallel()
	cfg, _, err := Load([]string{"--http", "off", "--rtmp=OFF", "--webrtc-udp", "off"},
		envMap(map[string]string{"HUABIAN_SRT_LISTEN": "off", "HUABIAN_WEBRTC_TCP": "off"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, tc := range []struct {
		name string
		addr string
		want bool
	}{
		{"http", cfg.HTTP.Listen, false},
		{"rtmp", cfg.RTMP.Listen, false},
		{"srt", cfg.SRT.Listen, false},
		{"webrtc", cfg.WebRTC.UDP, false},
		{"webrtc tcp", cfg.WebRTC.TCP, false},
		{"nats.listen default", cfg.NATS.Listen, false},
		{"port", ":8080", true},
		{"host port", "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Enabled(tc.addr); got != tc.want {
				t.Errorf("Enabled(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestFileKeepsUnsetDefaults(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "# only one field\nhls:\n  part_duration: 100ms\n")
	cfg, _, err := Load([]string{"--config", p}, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Defaults()
	want.HLS.PartDuration = 100 * time.Millisecond
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
	empty := writeFile(t, "")
	if cfg, _, err := Load([]string{"--config", empty}, nil); err != nil || !reflect.DeepEqual(cfg, Defaults()) {
		t.Errorf("empty file: got %+v, %v; want defaults", cfg, err)
	}
}
