// Package web holds the site's HTML templates and static files, embedded in
// the binary so one file is the whole server.
package web

import "embed"

// FS holds templates/*.html (partials shared by every page start with "_",
// so they are named explicitly) and static/….
//
//go:embed templates static templates/_*.html
var FS embed.FS
