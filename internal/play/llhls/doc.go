// Package llhls serves live channels as Low-Latency HLS (RFC 8216bis, with
// partial segments, preload hints and blocking playlist reload) under
// /live/NAME/index.m3u8, for hls.js in browsers and native players.
//
// # Design
//
// Each live stream is muxed once, on demand: the first request for a channel
// starts a session that subscribes a hub.Reader at the newest keyframe (the
// GOP cache, so the first segment is complete about one GOP later) and feeds
// a gohlslib Muxer (variant LowLatency: fMP4/CMAF, ~1 s segments cut at
// keyframes, ~200 ms parts, kept in memory). Every viewer is served from that
// muxer; media playlists answering blocking reloads and complete parts are
// rendered once and shared by every viewer that asks for them. The session ends when the stream ends, after 60 s without requests,
// or when Run's context ends; Run owns all session goroutines. A new
// *media.Tracks with different codec parameters restarts the muxer (new init
// segment and file prefix; clients recover by reloading the playlist); a
// publisher that reconnects with identical parameters keeps it, so viewers
// continue without noticing.
//
// # Why gohlslib
//
// gohlslib (MIT, pure Go, maintained by bluenviron as part of MediaMTX, where
// LL-HLS is the default) implements the parts of RFC 8216bis that are easy to
// get subtly wrong: part/segment timing compatible with iOS (part durations
// within 85% of PART-TARGET, the seven initial EXT-X-GAP segments iOS
// needs), EXT-X-PRELOAD-HINT, blocking reload, delta updates (_HLS_skip), and
// fMP4 for H.264, H.265, AV1 (and VP9) with AAC and Opus. hls.js 1.7 plays its
// output at about 2 s of latency (docs: DEPENDENCIES.md §4). Writing our own
// playlist engine on mediacommon's fmp4 package would be more code to get
// right for the same result.
//
// # gohlslib caveats and how they are handled
//
//   - Unknown file names get an empty 200 (gohlslib writes nothing). Requests
//     are passed through forwardWriter, which turns "nothing written" into
//     404 and gohlslib's bare error statuses into short text explanations.
//   - Its waits (index.m3u8 and media playlists before the first segment,
//     blocking reload, preload-hinted parts) sit on a sync.Cond and ignore the
//     request context, so a client that goes away, or a stalled publisher,
//     would pin handler goroutines. No request ever waits inside gohlslib:
//     one watcher goroutine per muxer follows the live edge by requesting
//     the leading media playlist with the next part's _HLS_msn/_HLS_part, and
//     publishes what it reads (edge). Requests wait on that state with their
//     context and a bound (5 s for the first segment, 3× target duration for
//     blocking reload and preload hints; then 503 with Retry-After), and only
//     then reach gohlslib, as a request it answers at once.
//   - Delivery directives are validated before anything else
//     (ParseBlockingParams, then tooFarAhead): non-numeric, negative,
//     repeated, _HLS_part without _HLS_msn, or too far beyond the live edge
//     → 400 per RFC 8216bis §6.2.5.2. (gohlslib's own lower-bound check also
//     underflows before the first segment; it never sees _HLS_msn.)
//   - gohlslib needs parameter sets in-band (its DTS extractor and init
//     segment read them from the bitstream), while the hub carries them in
//     Tracks: SPS/PPS (and VPS) are prepended to random-access H.264/H.265
//     access units, and the sequence header OBU to AV1 keyframes. Zero-length
//     NAL units/OBUs are dropped (gohlslib indexes unit[0]).
//   - Its OnEncodeError defaults to the standard logger; here it is routed to
//     slog at debug level, and write errors at warn level, each aggregated to
//     at most one line per 10 s (never one per packet).
//   - It only accepts fixed clock rates per codec and at least 7 segments
//     for LL-HLS; both are set accordingly. Codecs it cannot put in fMP4
//     (MP3, …) are skipped with one log line per publish session; a stream
//     with nothing playable answers 404 with the reason.
//   - CORS is added here (Access-Control-Allow-Origin: *, OPTIONS preflight).
//     gohlslib already sends Cache-Control: max-age=3600 for init segments,
//     segments and parts (immutable: their names carry a random per-muxer
//     prefix) and no-cache for LL-HLS media playlists. The multivariant
//     playlist becomes "private, max-age=5" because it carries the viewer
//     session id; errors are no-cache.
//
// # Viewer sessions
//
// index.m3u8 answers with media playlist URIs that carry a random session
// id (query parameter hbs, 64 bits). Viewers counts distinct ids that fetched
// a playlist in the last 10 s; clients that drop the parameter are counted
// by client address + User-Agent. The id is stripped before gohlslib sees a
// media playlist request, so segment and part URLs stay identical for all
// viewers and cacheable by a CDN; media playlists are per viewer anyway
// (no-cache, blocking). Behind a reverse proxy, r.RemoteAddr must already be
// the client address (the fallback key and the per-address limit use it).
//
// # Limits
//
// A client address may have at most 256 requests held at once (blocking
// reloads, preload hints, first-segment waits); beyond that it gets 429.
// Loopback peers (a reverse proxy on the same host, a local load test) stand
// for many viewers and share a bound of 16384 instead.
package llhls
