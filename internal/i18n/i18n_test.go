package i18n

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"
)

func TestCataloguesLoad(t *testing.T) {
	if err := Err(); err != nil {
		t.Fatalf("embedded catalogues: %v", err)
	}
	if len(Default().Keys(English)) == 0 {
		t.Fatal("English catalogue is empty")
	}
}

// Every key in English must exist in every other edition, whichever
// domain file defines it.
func TestCataloguesComplete(t *testing.T) {
	for _, l := range Editions[1:] {
		t.Run(string(l), func(t *testing.T) {
			for _, k := range Default().Missing(l) {
				t.Errorf("%s lacks %q", l, k)
			}
		})
	}
}

func TestLoadReportsBrokenAndDuplicateFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"en/a.json": {Data: []byte(`{"x.one":"One"}`)},
		"en/b.json": {Data: []byte(`{"x.one":"Again"}`)},
		"fr/a.json": {Data: []byte(`{not json`)},
	}
	b, err := Load(fsys)
	if err == nil {
		t.Fatal("Load accepted a duplicate key and a broken file")
	}
	if got := b.Missing(French); len(got) != 1 || got[0] != "x.one" {
		t.Errorf("Missing(fr) = %v, want [x.one]", got)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		cookie, accept string
		want           Lang
	}{
		{"", "", English},
		{"", "de-DE,de;q=0.9", English},
		{"", "en-GB", English},
		{"", "zh-CN,zh;q=0.9", SimplifiedChinese},
		{"", "zh-SG", SimplifiedChinese},
		{"", "zh", SimplifiedChinese},
		{"", "zh-TW", TraditionalChinese},
		{"", "zh-HK", TraditionalChinese},
		{"", "zh-MO", TraditionalChinese},
		{"", "fr-CA", French},
		{"", "fr-FR,en;q=0.5", French},
		{"", "ja,fr;q=0.5", French},
		{"", "garbage;;;q=x", English},
		{"zh-Hant", "fr", TraditionalChinese},
		{"fr", "zh-CN", French},
		{"xx", "zh-TW", TraditionalChinese},
	}
	for _, tc := range tests {
		t.Run(tc.cookie+"|"+tc.accept, func(t *testing.T) {
			if got := Match(tc.cookie, tc.accept); got != tc.want {
				t.Errorf("Match(%q, %q) = %q, want %q", tc.cookie, tc.accept, got, tc.want)
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	b, err := Load(fstest.MapFS{
		"en/t.json": {Data: []byte(`{"greet":"Hello {name}, {n} new","only.en":"English only"}`)},
		"fr/t.json": {Data: []byte(`{"greet":"Bonjour {name}, {n} nouveaux"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang Lang
		key  string
		kv   []any
		want string
	}{
		{English, "greet", []any{"name", "Ana", "n", 1234}, "Hello Ana, 1,234 new"},
		{French, "greet", []any{"name", "Ana", "n", 1234}, "Bonjour Ana, 1\u00a0234 nouveaux"},
		{French, "only.en", nil, "English only"},
		{French, "no.such.key", nil, "no.such.key"},
		{English, "greet", []any{"name", "{n}"}, "Hello {n}, {n} new"},
	}
	for _, tc := range tests {
		t.Run(string(tc.lang)+"/"+tc.key, func(t *testing.T) {
			if got := b.Localizer(tc.lang).T(tc.key, tc.kv...); got != tc.want {
				t.Errorf("T = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	day := time.Date(2026, time.August, 3, 14, 5, 0, 0, time.UTC)
	tests := []struct {
		lang      Lang
		num, date string
		dateTime  string
	}{
		{English, "1,234,567", "Aug 3, 2026", "Aug 3, 2026, 14:05"},
		{SimplifiedChinese, "1,234,567", "2026年8月3日", "2026年8月3日 14:05"},
		{TraditionalChinese, "1,234,567", "2026年8月3日", "2026年8月3日 14:05"},
		{French, "1\u00a0234\u00a0567", "3 août 2026", "3 août 2026 à 14:05"},
	}
	for _, tc := range tests {
		t.Run(string(tc.lang), func(t *testing.T) {
			lz := For(tc.lang)
			if got := lz.Number(1234567); got != tc.num {
				t.Errorf("Number = %q, want %q", got, tc.num)
			}
			if got := lz.Date(day); got != tc.date {
				t.Errorf("Date = %q, want %q", got, tc.date)
			}
			if got := lz.DateTime(day); got != tc.dateTime {
				t.Errorf("DateTime = %q, want %q", got, tc.dateTime)
			}
			if got := lz.Lang().Tag(); got != string(tc.lang) {
				t.Errorf("Tag = %q", got)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	var got Lang
	h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = FromContext(r.Context()).Lang()
	}))
	tests := []struct {
		name, cookie, accept string
		want                 Lang
	}{
		{"default", "", "", English},
		{"accept", "", "zh-HK", TraditionalChinese},
		{"cookie wins", "fr", "zh-CN", French},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: CookieName, Value: tc.cookie})
			}
			if tc.accept != "" {
				r.Header.Set("Accept-Language", tc.accept)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if FromContext(t.Context()).Lang() != English {
		t.Error("FromContext without a localizer is not English")
	}
}

func TestStrings(t *testing.T) {
	s := For(French).Strings("web.count.")
	if s["web.count.viewers.other"] != "{count} spectateurs" {
		t.Errorf("Strings = %v", s)
	}
	if _, ok := s["web.skip"]; ok {
		t.Error("Strings returned a key outside the prefix")
	}
}
