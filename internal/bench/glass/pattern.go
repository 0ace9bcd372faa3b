// Package glass measures glass-to-glass latency through a real browser:
// frames carrying a visible time code are encoded by ffmpeg (x264) and
// published, a headless Chromium plays them on a web page, and the page
// reads the code back from each decoded picture and compares it with the
// clock. Encoder, server, transport, the player's buffers and the browser's
// decoder are all inside the figure; only the display's scan-out is not.
package glass

import "fmt"

// The time code is two rows of codeBits blocks across the top of the
// picture, each block codeRowHeight/720 of the height tall: the first row
// holds the value's bits (white = 1, most significant first), the second
// the same bits inverted. A reader accepts a picture only when every block
// pair disagrees, so a half-updated or smeared picture is rejected rather
// than misread.
const (
	codeBits      = 32
	codeRowHeight = 40 // in a 720-line picture; scaled with the height
	lumaOne       = 235
	lumaZero      = 16
)

// codeRows returns the height in lines of one code row in a picture h
// lines tall (at least 8 so small pictures still decode).
func codeRows(h int) int {
	r := h * codeRowHeight / 720
	if r < 8 {
		r = 8
	}
	return r
}

// frameSize is the size of one yuv420p picture.
func frameSize(w, h int) int { return w*h + 2*((w+1)/2)*((h+1)/2) }

// checkSize refuses sizes the code cannot be drawn on.
func checkSize(w, h int) error {
	if w < codeBits*8 || h < 4*codeRows(h) || w%2 != 0 || h%2 != 0 || w > 3840 || h > 2160 {
		return fmt.Errorf("picture size %dx%d: want even sizes from %dx%d to 3840x2160", w, h, codeBits*8, 4*codeRows(h))
	}
	return nil
}

// drawFrame fills buf (yuv420p, w×h) with picture n: a moving diagonal
// pattern, so the encoder has real motion to code, under the time code
// for value v.
func drawFrame(buf []byte, w, h, n int, v uint32) {
	y := buf[:w*h]
	rows := codeRows(h)
	shift := n * 6
	for line := 2 * rows; line < h; line++ {
		row := y[line*w : (line+1)*w]
		base := line*2 + shift
		for x := range row {
			// Bands 32 pixels wide moving right and down; the low bits
			// give the encoder gradients as well as edges.
			row[x] = byte((x + base) & 0xff)
		}
	}
	blockW := w / codeBits
	for bit := 0; bit < codeBits; bit++ {
		one := v&(1<<(codeBits-1-bit)) != 0
		top, bottom := byte(lumaZero), byte(lumaOne)
		if one {
			top, bottom = lumaOne, lumaZero
		}
		x0, x1 := bit*blockW, (bit+1)*blockW
		if bit == codeBits-1 {
			x1 = w
		}
		for line := 0; line < rows; line++ {
			fill(y[line*w+x0:line*w+x1], top)
			fill(y[(line+rows)*w+x0:(line+rows)*w+x1], bottom)
		}
	}
	// Neutral chroma: a grey picture, so the code's luma is what the
	// browser's RGB conversion gives back.
	fill(buf[w*h:], 128)
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// decodeCode reads the time code from luma samples taken at the centre of
// each block of both rows (top[i], bottom[i] for bit i). ok is false when
// any pair does not disagree clearly.
func decodeCode(top, bottom []byte) (v uint32, ok bool) {
	if len(top) != codeBits || len(bottom) != codeBits {
		return 0, false
	}
	for i := 0; i < codeBits; i++ {
		a, b := top[i] >= 128, bottom[i] >= 128
		if a == b {
			return 0, false
		}
		if a {
			v |= 1 << (codeBits - 1 - i)
		}
	}
	return v, true
}
