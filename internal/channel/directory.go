package channel

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/huabian-live/huabian/internal/store"
)

// Directory page sizes.
const (
	DefaultDirectoryLimit = 50
	MaxDirectoryLimit     = 100
	MaxSearchLen          = 100
)

// LiveInfo is what the live registry says about a channel on air.
type LiveInfo struct {
	StartedAt time.Time
	Viewers   int
}

// DirectoryQuery selects a page of the directory.
type DirectoryQuery struct {
	Search     string // substring of the name, title or a tag, any case
	Category   string // category slug; a parent includes its children
	FollowedBy int64  // only channels this user follows (0: any)
	LiveOnly   bool
	Limit      int   // 0: DefaultDirectoryLimit
	Offset     int   //
	ViewerID   int64 // fills in Entry.Following (0: anonymous)
}

// Entry is one channel of the directory, with its live state.
type Entry struct {
	Record
	Live      bool
	StartedAt time.Time
	Viewers   int
}

// Directory returns a page of the public directory and the number of
// channels matching q: live channels first (most viewers first), then the
// others by when they were last live. live maps the names of the channels
// on air to their state; the listing is the store's channels merged with it.
// Unlisted and disabled channels are never listed.
func (s *Service) Directory(ctx context.Context, q DirectoryQuery, live map[string]LiveInfo) ([]Entry, int, error) {
	f := store.ChannelFilter{ListedOnly: true, FollowedBy: q.FollowedBy, ViewerID: q.ViewerID}
	search, err := normalizeSearch(q.Search)
	if err != nil {
		return nil, 0, err
	}
	f.Search = search
	if q.Category != "" {
		c, ok := CategoryBySlug(q.Category)
		if !ok {
			return nil, 0, profileError("category", "category %q: unknown", truncate(q.Category))
		}
		f.Categories = c.Slugs()
	}
	if q.LiveOnly {
		f.Names = make([]string, 0, len(live))
		for name := range live {
			f.Names = append(f.Names, name)
		}
	}
	recs, err := s.st.ChannelRecords(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("directory: %w", err)
	}
	entries := WithLive(recs, live)
	SortDirectory(entries)
	total := len(entries)
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultDirectoryLimit
	}
	limit = min(limit, MaxDirectoryLimit)
	offset := min(max(q.Offset, 0), total)
	return entries[offset:min(total, offset+limit)], total, nil
}

// WithLive pairs records with their live state.
func WithLive(recs []Record, live map[string]LiveInfo) []Entry {
	out := make([]Entry, len(recs))
	for i, r := range recs {
		out[i] = Entry{Record: r}
		if l, ok := live[r.Name]; ok {
			out[i].Live, out[i].StartedAt, out[i].Viewers = true, l.StartedAt, l.Viewers
		}
	}
	return out
}

// SortDirectory orders entries as the directory shows them: live ones by
// viewers (most first), then offline ones by last live time (most recent
// first, never-live last); ties by name.
func SortDirectory(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		if a.Live != b.Live {
			if a.Live {
				return -1
			}
			return 1
		}
		if a.Live {
			if c := cmp.Compare(b.Viewers, a.Viewers); c != 0 {
				return c
			}
		} else if c := b.LastLiveAt.Compare(a.LastLiveAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func normalizeSearch(q string) (string, error) {
	if !utf8.ValidString(q) {
		return "", profileError("query", "search: not valid UTF-8")
	}
	q = strings.ToLower(norm.NFC.String(strings.TrimSpace(q)))
	if utf8.RuneCountInString(q) > MaxSearchLen {
		return "", profileError("query", "search: at most %d characters", MaxSearchLen)
	}
	return q, nil
}
