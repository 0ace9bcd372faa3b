package channel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huabian-live/huabian/internal/store"
)

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngClaiming returns a small valid PNG whose header claims w×h: a
// decompression bomb shape.
func pngClaiming(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := encodePNG(t, testImage(8, 8))
	// IHDR data starts at 16: width, height; its CRC covers type+data.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestDecodeImage(t *testing.T) {
	t.Parallel()
	pngOK := encodePNG(t, testImage(40, 30))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"png", pngOK, nil},
		{"jpeg", encodeJPEG(t, testImage(40, 30)), nil},
		{"gif", encodeGIF(t, testImage(40, 30)), nil},
		{"empty", nil, ErrImageType},
		{"html", []byte("<html><script>alert(1)</script></html>"), ErrImageType},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), ErrImageType},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), ErrImageType},
		{"png magic then junk", append([]byte("\x89PNG\r\n\x1a\n"), "junk"...), ErrImageType},
		// The script's bytes read as a 10799×0 GIF screen.
		{"gif js polyglot", []byte("GIF89a/*\x00\x00*/=alert(1);"), ErrImageSize},
		{"truncated png", pngOK[:len(pngOK)/2], ErrImageType},
		{"bomb 100000x100000", pngClaiming(t, 100000, 100000), ErrImageSize},
		{"4097 wide", pngClaiming(t, 4097, 1), ErrImageSize},
		{"zero", pngClaiming(t, 0, 8), ErrImageType},
		{"png with script appended", append(bytes.Clone(pngOK), "<script>alert(1)</script>"...), ErrImageTrailing},
		{"png with zip appended", append(bytes.Clone(pngOK), "PK\x03\x04rest"...), ErrImageTrailing},
		{"jpeg with html appended", append(encodeJPEG(t, testImage(8, 8)), "<html>"...), ErrImageTrailing},
		{"gif with data appended", append(encodeGIF(t, testImage(8, 8)), "<?php ?>"...), ErrImageTrailing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeImage(tc.data)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("decodeImage = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMediaSave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m, err := OpenMedia(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	avatar, err := m.Save(store.ImageAvatar, bytes.NewReader(encodeJPEG(t, testImage(300, 200))))
	if err != nil {
		t.Fatal(err)
	}
	if !ValidMediaName(avatar) || !strings.HasSuffix(avatar, ".png") {
		t.Errorf("avatar name %q", avatar)
	}
	f, err := m.Open(avatar)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != AvatarSide || img.Bounds().Dy() != AvatarSide {
		t.Errorf("avatar: %v, %v; want a %dx%d PNG", err, img.Bounds(), AvatarSide, AvatarSide)
	}

	banner, err := m.Save(store.ImageBanner, bytes.NewReader(encodePNG(t, testImage(2400, 600))))
	if err != nil {
		t.Fatal(err)
	}
	f, err = m.Open(banner)
	if err != nil {
		t.Fatal(err)
	}
	img, err = jpeg.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != MaxBannerW || img.Bounds().Dy() != 480 {
		t.Errorf("banner: %v, %v; want 1920x480 JPEG", err, img.Bounds())
	}
	small, err := m.Save(store.ImageBanner, bytes.NewReader(encodeGIF(t, testImage(100, 50))))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := jpeg.DecodeConfig(mustOpen(t, m, small)); err != nil || cfg.Width != 100 || cfg.Height != 50 {
		t.Errorf("small banner: %+v, %v; want 100x50 kept", cfg, err)
	}

	big := append(encodePNG(t, testImage(8, 8)), make([]byte, MaxAvatarBytes)...)
	if _, err := m.Save(store.ImageAvatar, bytes.NewReader(big)); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("oversize avatar: %v", err)
	}

	entries, _ := os.ReadDir(filepath.Join(dir, MediaDir))
	if len(entries) != 3 {
		t.Errorf("media dir holds %d files, want 3 (no temporary or refused files)", len(entries))
	}
	if err := m.Remove(avatar); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(avatar); err == nil {
		t.Error("removed file still opens")
	}
	if err := m.Remove(avatar); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../secret.txt", "..", "/etc/passwd", `..\secret.txt`, avatar + "/..",
		strings.Repeat("a", 32) + ".gif", strings.Repeat("A", 32) + ".png", strings.Repeat("a", 300)} {
		if _, err := m.Open(name); err == nil {
			t.Errorf("Open(%q) succeeded", name)
		}
		if err := m.Remove(name); err == nil && name != "" {
			t.Errorf("Remove(%q) succeeded", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.txt")); err != nil {
		t.Errorf("file outside the media dir: %v", err)
	}
}

func mustOpen(t *testing.T, m *Media, name string) *os.File {
	t.Helper()
	f, err := m.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestPlaceholderPreview(t *testing.T) {
	t.Parallel()
	cfg, err := png.DecodeConfig(bytes.NewReader(PlaceholderPreview()))
	if err != nil || cfg.Width != 320 || cfg.Height != 180 {
		t.Errorf("placeholder: %+v, %v", cfg, err)
	}
}

func FuzzDecodeImage(f *testing.F) {
	small := testImage(8, 8)
	for _, seed := range [][]byte{
		encodePNG(f, small), encodeJPEG(f, small), encodeGIF(f, small), pngClaiming(f, 100000, 100000),
		[]byte("GIF89a"), []byte("\x89PNG\r\n\x1a\n"), []byte("\xff\xd8\xff"), nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decodeImage(data)
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > MaxImageSide || b.Dy() > MaxImageSide {
			t.Fatalf("accepted %v", b)
		}
		if a := avatarImage(img).Bounds(); a.Dx() != AvatarSide || a.Dy() != AvatarSide {
			t.Fatalf("avatar %v", a)
		}
		if w := bannerImage(img).Bounds().Dx(); w > MaxBannerW {
			t.Fatalf("banner %d wide", w)
		}
	})
}

func FuzzNormalizeTags(f *testing.F) {
	for _, s := range []string{"chess", "Échecs", "a b", "", "<b>", "直播", "x_y-z", strings.Repeat("t", 25)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		got, err := NormalizeTags([]string{tag, tag})
		if err != nil {
			return
		}
		if len(got) != 1 || !validTag(got[0]) || strings.ToLower(got[0]) != got[0] {
			t.Fatalf("NormalizeTags(%q) = %q", tag, got)
		}
	})
}
