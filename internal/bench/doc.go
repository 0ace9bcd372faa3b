// Package bench is Huabian Live's load tool (`huabian bench play`,
// `huabian bench publish`): it answers "how many viewers does this server
// hold, at what latency" with the same binary that runs the server, so an
// operator can measure their own box without installing anything.
//
// Play opens many concurrent viewers over HTTP-FLV, WS-FLV, RTMP or LL-HLS
// and reports connects, time to first byte and first keyframe, bitrate,
// stalls, publisher→viewer latency (when it also publishes), and the CPU and
// memory of itself and of the server. Publish loops an FLV file (by default
// the embedded fixture) into the server over RTMP in real time.
//
// The generator usually shares the machine with the server, so the viewers
// are deliberately cheap: no media is decoded, only container headers and
// timestamps are read (FLV tag headers, RTMP message headers, fMP4
// moof/traf boxes), and each viewer is one goroutine with one small buffer.
package bench
