package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Message text limits.
const (
	// MaxTextChars is the longest message, in characters (code points)
	// after NFC normalisation.
	MaxTextChars = 500
	// MaxBlockedWords and MaxBlockedWordChars bound a channel's list.
	MaxBlockedWords     = 200
	MaxBlockedWordChars = 64
	// MaxSlowModeSeconds is the longest slow mode a channel may set.
	MaxSlowModeSeconds = 3600
)

// normaliseText returns text in NFC with every control character (C0, DEL,
// C1: newlines and tabs too) removed and surrounding white space trimmed,
// or an error code: ErrCodeEmpty, ErrCodeTooLong. Everything else is kept
// as given; clients render it as text, never as HTML.
func normaliseText(text string) (string, string) {
	text = norm.NFC.String(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(text, "\uFFFD")))
	text = strings.TrimSpace(text)
	if text == "" {
		return "", CodeMessageEmpty
	}
	if utf8.RuneCountInString(text) > MaxTextChars {
		return "", CodeMessageTooLong
	}
	return text, ""
}

// foldWord is the form blocked words are stored and matched in: NFC, lower
// case.
func foldWord(s string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
}

// containsBlocked reports whether normalised text contains any of words
// (already folded), ignoring case.
func containsBlocked(text string, words []string) bool {
	if len(words) == 0 {
		return false
	}
	t := strings.ToLower(text)
	for _, w := range words {
		if w != "" && strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// normaliseWords folds, de-duplicates and checks a blocked-words list.
func normaliseWords(words []string) ([]string, bool) {
	if len(words) > MaxBlockedWords {
		return nil, false
	}
	out := make([]string, 0, len(words))
	seen := make(map[string]bool, len(words))
	for _, w := range words {
		f := foldWord(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, w))
		if f == "" || utf8.RuneCountInString(f) > MaxBlockedWordChars {
			return nil, false
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, true
}
