package channel

import (
	"errors"
	"fmt"
)

// MaxNameLen is the longest channel name.
const MaxNameLen = 32

// ErrBadName is wrapped by ValidateName's errors.
var ErrBadName = errors.New(`use 1-32 characters from a-z, 0-9, "_" and "-"`)

// ValidateName accepts exactly the names matching [a-z0-9_-]{1,32}. Names
// appear in URLs and file paths, so nothing else is allowed: no dots,
// slashes, upper case or non-ASCII.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return nameError(name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return nameError(name)
		}
	}
	return nil
}

func nameError(name string) error {
	const show = 40 // keep the message one short line for huge input
	if len(name) > show {
		return fmt.Errorf("channel name %q…: %w", name[:show], ErrBadName)
	}
	return fmt.Errorf("channel name %q: %w", name, ErrBadName)
}
