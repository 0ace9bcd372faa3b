package channel

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeProfile(t *testing.T) {
	t.Parallel()
	xss := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	tests := []struct {
		name     string
		in       Profile
		want     Profile
		wantCode string
	}{
		{"empty gets defaults", Profile{}, Profile{Visibility: "public"}, ""},
		{"full", Profile{Title: "  Chess night ", Description: "line1\r\nline2\tx", Category: "games-strategy",
			Tags: []string{"Chess", "chess", "Échecs", "blitz_5-0"}, Language: "ZH-hant", Visibility: "unlisted"},
			Profile{Title: "Chess night", Description: "line1\nline2\tx", Category: "games-strategy",
				Tags: []string{"chess", "échecs", "blitz_5-0"}, Language: "zh-Hant", Visibility: "unlisted"}, ""},
		{"xss kept verbatim", Profile{Title: xss, Description: xss}, Profile{Title: xss, Description: xss, Visibility: "public"}, ""},
		{"NFC", Profile{Title: "e\u0301t\u00e9"}, Profile{Title: "\u00e9t\u00e9", Visibility: "public"}, ""},
		{"title 140", Profile{Title: strings.Repeat("直", 140)}, Profile{Title: strings.Repeat("直", 140), Visibility: "public"}, ""},
		{"title 141", Profile{Title: strings.Repeat("直", 141)}, Profile{}, "invalid_title"},
		{"title newline", Profile{Title: "a\nb"}, Profile{}, "invalid_title"},
		{"title nul", Profile{Title: "a\x00b"}, Profile{}, "invalid_title"},
		{"title bad utf8", Profile{Title: "a\xffb"}, Profile{}, "invalid_title"},
		{"description 2001", Profile{Description: strings.Repeat("a", 2001)}, Profile{}, "invalid_description"},
		{"description escape char", Profile{Description: "a\x1b[31m"}, Profile{}, "invalid_description"},
		{"unknown category", Profile{Category: "games/strategy"}, Profile{}, "invalid_category"},
		{"tag with space", Profile{Tags: []string{"two words"}}, Profile{}, "invalid_tags"},
		{"tag with dot", Profile{Tags: []string{"a.b"}}, Profile{}, "invalid_tags"},
		{"tag html", Profile{Tags: []string{"<b>"}}, Profile{}, "invalid_tags"},
		{"empty tag", Profile{Tags: []string{""}}, Profile{}, "invalid_tags"},
		{"tag 25", Profile{Tags: []string{strings.Repeat("t", 25)}}, Profile{}, "invalid_tags"},
		{"11 tags", Profile{Tags: strings.Split("a b c d e f g h i j k", " ")}, Profile{}, "invalid_tags"},
		{"10 tags and duplicates", Profile{Tags: strings.Split("a b c d e f g h i j A", " ")},
			Profile{Tags: strings.Split("a b c d e f g h i j", " "), Visibility: "public"}, ""},
		{"unknown language", Profile{Language: "klingon"}, Profile{}, "invalid_language"},
		{"bad visibility", Profile{Visibility: "private"}, Profile{}, "invalid_visibility"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeProfile(tc.in)
			if tc.wantCode != "" {
				var pe *ProfileError
				if !errors.As(err, &pe) || pe.Code != tc.wantCode || !errors.Is(err, ErrInvalidProfile) {
					t.Fatalf("NormalizeProfile = %v, want code %s", err, tc.wantCode)
				}
				if len(err.Error()) > 200 {
					t.Errorf("message is %d bytes", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeProfile: %v", err)
			}
			if got.Title != tc.want.Title || got.Description != tc.want.Description || got.Category != tc.want.Category ||
				!slices.Equal(got.Tags, tc.want.Tags) || got.Language != tc.want.Language || got.Visibility != tc.want.Visibility {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCategories(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	var walk func(cs []*Category, parent *Category)
	walk = func(cs []*Category, parent *Category) {
		for _, c := range cs {
			if seen[c.Slug] {
				t.Errorf("duplicate slug %q", c.Slug)
			}
			seen[c.Slug] = true
			if c.Parent != parent {
				t.Errorf("%s: wrong parent", c.Slug)
			}
			if ValidateName(c.Slug) != nil {
				t.Errorf("slug %q is not URL-safe", c.Slug)
			}
			got, ok := CategoryBySlug(c.Slug)
			if !ok || got != c {
				t.Errorf("CategoryBySlug(%q) = %v, %v", c.Slug, got, ok)
			}
			walk(c.Children, c)
		}
	}
	walk(Categories(), nil)
	games, ok := CategoryBySlug("games")
	if !ok || !slices.Contains(games.Slugs(), "games-strategy") || len(games.Slugs()) != 5 {
		t.Errorf("games slugs = %v", games.Slugs())
	}
	s, _ := CategoryBySlug("games-strategy")
	if p := s.Path(); len(p) != 2 || p[0].Slug != "games" || p[1].Slug != "games-strategy" {
		t.Errorf("path = %v", p)
	}
	if _, ok := CategoryBySlug("nope"); ok {
		t.Error("unknown slug found")
	}
}
