package testkit

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateAgainstSpec(t *testing.T) {
	spec, err := LoadSpec(filepath.Join("testdata", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const ok = `{"name":"demo","live":false,"started_at":null,"video":null,"audio":null,"ingest_bitrate":0,"viewers":{"total":0}}`
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		wantErr            string
	}{
		{"documented", "GET", "/api/v1/channels/demo", 200, ok, ""},
		{"error body", "GET", "/api/v1/channels/x", 404, `{"error":"not_found","message":"no such channel"}`, ""},
		{"undocumented path", "GET", "/api/v1/nothing", 200, `{}`, "not documented"},
		{"undocumented status", "GET", "/api/v1/channels/demo", 418, `{}`, "status 418"},
		{"missing property", "GET", "/api/v1/channels/demo", 200, `{"name":"demo"}`, "required property"},
		{"wrong type", "GET", "/api/v1/channels/demo", 200, strings.Replace(ok, `"live":false`, `"live":"no"`, 1), "want a boolean"},
		{"extra property", "GET", "/api/v1/channels/demo", 200, strings.Replace(ok, `{"name"`, `{"secret":1,"name"`, 1), "not documented"},
		{"bad date", "GET", "/api/v1/channels/demo", 200, strings.Replace(ok, `"started_at":null`, `"started_at":"yesterday"`, 1), "date-time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Validate(tc.method, tc.path, tc.status, "application/json", []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
