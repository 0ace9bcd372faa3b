// Package testkit holds helpers shared by tests. openapi.go checks JSON
// responses against docs/openapi.yaml, so that the document and the API
// cannot drift apart unnoticed.
package testkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spec is a loaded OpenAPI 3.0 document. Only what response checking needs
// is read: paths, operations, responses and schemas (type, properties,
// required, items, enum, nullable, additionalProperties, $ref, oneOf).
type Spec struct {
	doc    map[string]any
	base   string // servers[0].url, e.g. /api/v1
	routes []route
}

type route struct {
	template string // the full path from the site root, e.g. /api/v1/channels/{name}
	re       *regexp.Regexp
	ops      map[string]any // lower-case method → operation
}

// LoadSpec reads and parses an OpenAPI document.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read OpenAPI document: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse OpenAPI document %s: %w", path, err)
	}
	s := &Spec{doc: doc}
	if servers, ok := doc["servers"].([]any); ok && len(servers) > 0 {
		if m, ok := servers[0].(map[string]any); ok {
			s.base, _ = m["url"].(string)
		}
	}
	paths, _ := doc["paths"].(map[string]any)
	for tmpl, v := range paths {
		ops, _ := v.(map[string]any)
		// A path may override the document's server (e.g. /media beside
		// /api/v1).
		base := s.base
		if servers, ok := ops["servers"].([]any); ok && len(servers) > 0 {
			if m, ok := servers[0].(map[string]any); ok {
				base, _ = m["url"].(string)
			}
		}
		tmpl = strings.TrimSuffix(base, "/") + tmpl
		pattern := regexp.QuoteMeta(tmpl)
		pattern = regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(pattern, `[^/]+`)
		s.routes = append(s.routes, route{template: tmpl, re: regexp.MustCompile("^" + pattern + "$"), ops: ops})
	}
	// Literal segments win over parameters: try templates with fewer
	// parameters first.
	sort.Slice(s.routes, func(i, j int) bool {
		ci, cj := strings.Count(s.routes[i].template, "{"), strings.Count(s.routes[j].template, "{")
		if ci != cj {
			return ci < cj
		}
		return s.routes[i].template < s.routes[j].template
	})
	return s, nil
}

// Operations lists "METHOD /template" for every documented operation, the
// template being the full path from the site root.
func (s *Spec) Operations() []string {
	var out []string
	for _, r := range s.routes {
		for m := range r.ops {
			switch m {
			case "get", "post", "put", "patch", "delete":
				out = append(out, strings.ToUpper(m)+" "+r.template)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Validate checks a response: the path (from the site root) and method
// must be documented, the status must be one of the documented
// responses (or "default"), and a JSON body must match its schema. It
// returns the documented operation ("METHOD /template").
func (s *Spec) Validate(method, path string, status int, contentType string, body []byte) (string, error) {
	p := path
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	var op map[string]any
	var tmpl string
	for _, r := range s.routes {
		if r.re.MatchString(p) {
			if o, ok := r.ops[strings.ToLower(method)].(map[string]any); ok {
				op, tmpl = o, r.template
				break
			}
		}
	}
	if op == nil {
		return "", fmt.Errorf("%s %s is not documented", method, path)
	}
	name := method + " " + tmpl
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)]
	if !ok {
		if resp, ok = responses["default"]; !ok {
			return name, fmt.Errorf("%s: status %d is not documented", name, status)
		}
	}
	r, err := s.resolve(resp)
	if err != nil {
		return name, fmt.Errorf("%s %d: %w", name, status, err)
	}
	content, _ := r["content"].(map[string]any)
	if len(content) == 0 {
		return name, nil // no body documented (e.g. 204)
	}
	media, ok := content["application/json"].(map[string]any)
	if !ok || !strings.HasPrefix(contentType, "application/json") {
		return name, nil // a non-JSON body; only JSON is checked
	}
	schema, ok := media["schema"]
	if !ok {
		return name, nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return name, fmt.Errorf("%s %d: body is not JSON: %w", name, status, err)
	}
	if err := s.check(schema, v, "$"); err != nil {
		return name, fmt.Errorf("%s %d: %w", name, status, err)
	}
	return name, nil
}

// resolve follows a local $ref ("#/components/...").
func (s *Spec) resolve(v any) (map[string]any, error) {
	for range 16 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("not an object in the document")
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("only local references are supported: %s", ref)
		}
		var cur any = s.doc
		for _, part := range strings.Split(ref[2:], "/") {
			cm, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("bad reference %s", ref)
			}
			cur, ok = cm[part]
			if !ok {
				return nil, fmt.Errorf("reference %s not found", ref)
			}
		}
		v = cur
	}
	return nil, errors.New("reference chain too deep")
}

func (s *Spec) check(schemaV any, v any, at string) error {
	schema, err := s.resolve(schemaV)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	if v == nil {
		if n, _ := schema["nullable"].(bool); n {
			return nil
		}
		if _, hasType := schema["type"]; !hasType && schema["oneOf"] == nil && schema["anyOf"] == nil {
			return nil // an empty schema accepts anything
		}
		return fmt.Errorf("%s: null is not allowed", at)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts, ok := schema[key].([]any); ok {
			var errs []error
			matched := 0
			for _, alt := range alts {
				if err := s.check(alt, v, at); err != nil {
					errs = append(errs, err)
				} else {
					matched++
				}
			}
			if matched == 0 || (key == "oneOf" && matched > 1) {
				return fmt.Errorf("%s: matches %d of the %s alternatives: %w", at, matched, key, errors.Join(errs...))
			}
		}
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
		}
	}
	typ, _ := schema["type"].(string)
	switch typ {
	case "":
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := m[r.(string)]; !ok {
					return fmt.Errorf("%s: required property %q missing", at, r)
				}
			}
		}
		for k, val := range m {
			if ps, ok := props[k]; ok {
				if err := s.check(ps, val, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q is not documented", at, k)
				}
			case map[string]any:
				if err := s.check(ap, val, at+"."+k); err != nil {
					return err
				}
			case nil:
				if len(props) > 0 {
					return fmt.Errorf("%s: property %q is not documented", at, k)
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		if items, ok := schema["items"]; ok {
			for i, e := range a {
				if err := s.check(items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
		if f, _ := schema["format"].(string); f == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Errorf("%s: %q is not an RFC 3339 date-time", at, str)
			}
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want a %s, got %T", at, typ, v)
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		if typ == "integer" && f != math.Trunc(f) {
			return fmt.Errorf("%s: %s is not an integer", at, n)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	default:
		return fmt.Errorf("%s: unsupported schema type %q", at, typ)
	}
	return nil
}
