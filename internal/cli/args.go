package cli

import "strings"

// SplitArgs separates flags from positional arguments so that flags may come
// before, between or after them (huabian channel create demo --data ./d).
//
// Each returned flag is one token as typed, "--name" or "--name=value" (one
// dash works too): a flag not in boolFlags (keyed by name without dashes)
// takes the next argument as its value unless written with "=". A value flag
// left without its value at the end is returned bare, for the flag parser to
// report. "--" ends the flags; a lone "-" is positional.
func SplitArgs(args []string, boolFlags map[string]bool) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(FlagName(a), "=")
		if hasValue || boolFlags[name] || i+1 == len(args) {
			flags = append(flags, a)
			continue
		}
		flags = append(flags, a+"="+args[i+1])
		i++
	}
	return flags, positional
}

// FlagName strips the leading dashes (one or two) of a flag token.
func FlagName(token string) string {
	return strings.TrimPrefix(strings.TrimPrefix(token, "-"), "-")
}
