package channel

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/huabian-live/huabian/internal/store"
)

// Limits on a channel's profile. Lengths count Unicode code points after NFC
// normalisation.
const (
	MaxChannelsPerUser = 5
	MaxTitleLen        = 140
	MaxDescriptionLen  = 2000
	MaxTags            = 10
	MaxTagLen          = 24
)

// Visibilities. An unlisted channel is watchable by anyone with its URL but
// never appears in the directory or search.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
)

// Languages lists the BCP 47 codes a channel may declare, in their
// canonical spelling.
var Languages = []string{
	"ar", "bn", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fr", "he", "hi", "hu", "id",
	"it", "ja", "ko", "ms", "nl", "no", "pl", "pt", "pt-BR", "ro", "ru", "sv", "th", "tr",
	"uk", "vi", "yue", "zh-Hans", "zh-Hant",
}

// Profile is what a channel's owner edits about it.
type Profile = store.ChannelProfile

// Record is a channel with its profile, owner, images and follower counts.
type Record = store.ChannelRecord

// ProfileError says which profile field is invalid. Code is a
// machine-readable reason such as "invalid_title".
type ProfileError struct {
	Field string
	Code  string
	msg   string
}

func (e *ProfileError) Error() string { return e.msg }

// ErrInvalidProfile is wrapped by every *ProfileError.
var ErrInvalidProfile = errors.New("invalid channel profile")

func (e *ProfileError) Unwrap() error { return ErrInvalidProfile }

func profileError(field, format string, args ...any) *ProfileError {
	return &ProfileError{Field: field, Code: "invalid_" + field, msg: fmt.Sprintf(format, args...)}
}

// ProfileUpdate changes the fields that are not nil.
type ProfileUpdate struct {
	Title       *string
	Description *string
	Category    *string
	Tags        *[]string
	Language    *string
	Visibility  *string
}

// Apply returns p with u's fields set.
func (u ProfileUpdate) Apply(p Profile) Profile {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&p.Title, u.Title)
	set(&p.Description, u.Description)
	set(&p.Category, u.Category)
	set(&p.Language, u.Language)
	set(&p.Visibility, u.Visibility)
	if u.Tags != nil {
		p.Tags = *u.Tags
	}
	return p
}

// NormalizeProfile validates p and returns it in stored form: text in NFC
// with surrounding space trimmed, tags lower-case without duplicates, the
// language in canonical spelling, visibility "public" when empty. Text is
// kept verbatim otherwise: escaping is the job of whoever renders it.
func NormalizeProfile(p Profile) (Profile, error) {
	var err error
	if p.Title, err = cleanText(p.Title, false); err != nil {
		return p, profileError("title", "title: %v", err)
	}
	if n := utf8.RuneCountInString(p.Title); n > MaxTitleLen {
		return p, profileError("title", "title: %d characters, at most %d allowed", n, MaxTitleLen)
	}
	if p.Description, err = cleanText(p.Description, true); err != nil {
		return p, profileError("description", "description: %v", err)
	}
	if n := utf8.RuneCountInString(p.Description); n > MaxDescriptionLen {
		return p, profileError("description", "description: %d characters, at most %d allowed", n, MaxDescriptionLen)
	}
	if p.Category != "" {
		if _, ok := CategoryBySlug(p.Category); !ok {
			return p, profileError("category", "category %q: unknown", truncate(p.Category))
		}
	}
	if p.Tags, err = NormalizeTags(p.Tags); err != nil {
		return p, err
	}
	if p.Language != "" {
		lang, ok := canonicalLanguage(p.Language)
		if !ok {
			return p, profileError("language", "language %q: not one of the supported codes", truncate(p.Language))
		}
		p.Language = lang
	}
	switch p.Visibility {
	case "":
		p.Visibility = VisibilityPublic
	case VisibilityPublic, VisibilityUnlisted:
	default:
		return p, profileError("visibility", `visibility %q: use "public" or "unlisted"`, truncate(p.Visibility))
	}
	return p, nil
}

// NormalizeTags validates tags and returns them lower-case (NFC), without
// duplicates, in their first order. Each tag is 1-24 letters, digits, "_"
// or "-"; at most MaxTags are allowed.
func NormalizeTags(tags []string) ([]string, error) {
	if len(tags) > MaxTags*4 { // refuse absurd input before any work
		return nil, profileError("tags", "tags: at most %d allowed", MaxTags)
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.ToLower(norm.NFC.String(strings.TrimSpace(t)))
		if !validTag(t) {
			return nil, profileError("tags", "tag %q: use 1-%d letters, digits, \"_\" or \"-\"", truncate(t), MaxTagLen)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, profileError("tags", "tags: %d given, at most %d allowed", len(out), MaxTags)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func validTag(t string) bool {
	if !utf8.ValidString(t) {
		return false
	}
	n := 0
	for _, r := range t {
		n++
		if !(unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' || r == '-') {
			return false
		}
	}
	return n >= 1 && n <= MaxTagLen
}

// cleanText checks s is valid UTF-8 without control characters (newlines
// and tabs allowed when multiline), and returns it in NFC, trimmed, with
// CRLF turned into LF.
func cleanText(s string, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("not valid UTF-8")
	}
	if multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return "", fmt.Errorf("control character %U not allowed", r)
		}
	}
	return strings.TrimSpace(norm.NFC.String(s)), nil
}

func canonicalLanguage(code string) (string, bool) {
	for _, l := range Languages {
		if strings.EqualFold(l, code) {
			return l, true
		}
	}
	return "", false
}

// truncate shortens user input quoted in an error message.
func truncate(s string) string {
	const show = 40
	if len(s) <= show {
		return s
	}
	i := show
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
