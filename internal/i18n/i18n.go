// Package i18n chooses a visitor's edition (English, Simplified Chinese,
// Traditional Chinese, French) and translates the flat JSON catalogues that
// every part of the program contributes under locales/<lang>/<domain>.json.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Lang is an edition, written as its BCP 47 tag.
type Lang string

// The editions.
const (
	English            Lang = "en"
	SimplifiedChinese  Lang = "zh-Hans"
	TraditionalChinese Lang = "zh-Hant"
	French             Lang = "fr"
)

// Editions lists every edition, English (the fallback) first.
var Editions = []Lang{English, SimplifiedChinese, TraditionalChinese, French}

// CookieName is the cookie holding an explicit edition choice.
const CookieName = "hb_lang"

// Parse returns the edition named exactly by s.
func Parse(s string) (Lang, bool) {
	for _, l := range Editions {
		if string(l) == s {
			return l, true
		}
	}
	return "", false
}

// Name is the edition's name in its own language, for the edition bar.
func (l Lang) Name() string {
	switch l {
	case SimplifiedChinese:
		return "简体中文"
	case TraditionalChinese:
		return "繁體中文"
	case French:
		return "Français"
	default:
		return "English"
	}
}

// Tag is the BCP 47 tag for the browser's Intl and the html lang attribute.
func (l Lang) Tag() string { return string(l) }

var matcher = language.NewMatcher([]language.Tag{
	language.English,
	language.MustParse("zh-Hans"),
	language.MustParse("zh-Hant"),
	language.French,
})

// Match chooses an edition: the cookie if it names one, else the best
// match of the Accept-Language header (zh, zh-CN, zh-SG → zh-Hans; zh-TW,
// zh-HK, zh-MO → zh-Hant; fr-* → fr), else English.
func Match(cookieValue, acceptLanguage string) Lang {
	if l, ok := Parse(cookieValue); ok {
		return l
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	return Editions[i]
}

//go:embed locales
var locales embed.FS

// Bundle holds the catalogues of every edition.
type Bundle struct {
	cats map[Lang]map[string]string
}

// Load reads every <lang>/*.json catalogue of fsys. It returns what it
// could read together with any error, so one broken file does not take the
// others' strings down with it.
func Load(fsys fs.FS) (*Bundle, error) {
	b := &Bundle{cats: make(map[Lang]map[string]string, len(Editions))}
	var errs []error
	for _, l := range Editions {
		cat := map[string]string{}
		b.cats[l] = cat
		files, err := fs.Glob(fsys, path.Join(string(l), "*.json"))
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s catalogues: %w", l, err))
			continue
		}
		for _, name := range files {
			raw, err := fs.ReadFile(fsys, name)
			if err != nil {
				errs = append(errs, fmt.Errorf("read catalogue %s: %w", name, err))
				continue
			}
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				errs = append(errs, fmt.Errorf("decode catalogue %s: %w", name, err))
				continue
			}
			for k, v := range m {
				if _, dup := cat[k]; dup {
					errs = append(errs, fmt.Errorf("catalogue %s: key %q defined twice in %s", name, k, l))
				}
				cat[k] = v
			}
		}
	}
	return b, errors.Join(errs...)
}

var loadDefault = sync.OnceValues(func() (*Bundle, error) {
	sub, err := fs.Sub(locales, "locales")
	if err != nil {
		return &Bundle{cats: map[Lang]map[string]string{}}, fmt.Errorf("embedded locales: %w", err)
	}
	return Load(sub)
})

// Default returns the bundle of the embedded catalogues.
func Default() *Bundle {
	b, _ := loadDefault()
	return b
}

// Err reports whether any embedded catalogue failed to load; call it at
// start-up so a broken file is noticed.
func Err() error {
	_, err := loadDefault()
	return err
}

// Keys returns the sorted keys of an edition's catalogue.
func (b *Bundle) Keys(l Lang) []string {
	keys := make([]string, 0, len(b.cats[l]))
	for k := range b.cats[l] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Missing returns the keys present in English but not in l.
func (b *Bundle) Missing(l Lang) []string {
	var out []string
	for _, k := range b.Keys(English) {
		if _, ok := b.cats[l][k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// Localizer translates and formats for one edition.
type Localizer struct {
	lang    Lang
	cat, en map[string]string
	printer *message.Printer
}

// Localizer returns the localizer of edition l.
func (b *Bundle) Localizer(l Lang) *Localizer {
	if _, ok := Parse(string(l)); !ok {
		l = English
	}
	return &Localizer{
		lang:    l,
		cat:     b.cats[l],
		en:      b.cats[English],
		printer: message.NewPrinter(language.MustParse(string(l))),
	}
}

// For returns the localizer of edition l from the embedded catalogues.
func For(l Lang) *Localizer { return localizers[l] }

var localizers = func() map[Lang]*Localizer {
	m := make(map[Lang]*Localizer, len(Editions))
	for _, l := range Editions {
		m[l] = Default().Localizer(l)
	}
	return m
}()

// Lang returns the localizer's edition.
func (lz *Localizer) Lang() Lang { return lz.lang }

// Has reports whether key exists in this edition or in English.
func (lz *Localizer) Has(key string) bool {
	_, ok := lz.cat[key]
	if !ok {
		_, ok = lz.en[key]
	}
	return ok
}

// T translates key, replacing each {name} placeholder with the value that
// follows "name" in kv. A key missing in the edition falls back to English,
// then to the key itself.
func (lz *Localizer) T(key string, kv ...any) string {
	s, ok := lz.cat[key]
	if !ok {
		if s, ok = lz.en[key]; !ok {
			s = key
		}
	}
	if len(kv) < 2 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(kv[i])+"}", lz.format(kv[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

func (lz *Localizer) format(v any) string {
	switch n := v.(type) {
	case int, int32, int64, uint, uint32, uint64:
		return lz.Number(n)
	case time.Time:
		return lz.Date(n)
	default:
		return fmt.Sprint(v)
	}
}

// Number formats an integer or float with the edition's separators.
func (lz *Localizer) Number(n any) string {
	return lz.printer.Sprint(number.Decimal(n))
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet",
	"août", "septembre", "octobre", "novembre", "décembre"}

// Date formats the calendar date of t as the edition usually writes it:
// "Jan 2, 2006", "2006年1月2日", "2 janvier 2006".
func (lz *Localizer) Date(t time.Time) string {
	switch lz.lang {
	case SimplifiedChinese, TraditionalChinese:
		return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
	case French:
		return fmt.Sprintf("%d %s %d", t.Day(), frenchMonths[t.Month()-1], t.Year())
	default:
		return t.Format("Jan 2, 2006")
	}
}

// DateTime formats date and 24-hour time of t in the edition's style.
func (lz *Localizer) DateTime(t time.Time) string {
	switch lz.lang {
	case SimplifiedChinese, TraditionalChinese:
		return lz.Date(t) + " " + t.Format("15:04")
	case French:
		return lz.Date(t) + " à " + t.Format("15:04")
	default:
		return lz.Date(t) + ", " + t.Format("15:04")
	}
}

// Strings returns the translations of every key starting with one of the
// prefixes, English filling the gaps; pages hand them to their scripts.
func (lz *Localizer) Strings(prefixes ...string) map[string]string {
	out := map[string]string{}
	for _, src := range []map[string]string{lz.en, lz.cat} {
		for k, v := range src {
			for _, p := range prefixes {
				if strings.HasPrefix(k, p) {
					out[k] = v
					break
				}
			}
		}
	}
	return out
}

type ctxKey struct{}

// WithLocalizer returns ctx carrying lz.
func WithLocalizer(ctx context.Context, lz *Localizer) context.Context {
	return context.WithValue(ctx, ctxKey{}, lz)
}

// FromContext returns the request's localizer, English when none was set.
func FromContext(ctx context.Context) *Localizer {
	if lz, ok := ctx.Value(ctxKey{}).(*Localizer); ok {
		return lz
	}
	return For(English)
}

// FromRequest chooses the edition of r from its hb_lang cookie, else its
// Accept-Language header.
func FromRequest(r *http.Request) Lang {
	cookie := ""
	if c, err := r.Cookie(CookieName); err == nil {
		cookie = c.Value
	}
	return Match(cookie, r.Header.Get("Accept-Language"))
}

// Middleware puts the request's localizer in its context. A request that
// already carries one passes through unchanged. Handlers whose output
// depends on the edition say so with Vary (see the page renderer).
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(ctxKey{}).(*Localizer); ok {
			next.ServeHTTP(w, r)
			return
		}
		lz := For(FromRequest(r))
		next.ServeHTTP(w, r.WithContext(WithLocalizer(r.Context(), lz)))
	})
}
