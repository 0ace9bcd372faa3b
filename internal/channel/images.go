package channel

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/huabian-live/huabian/internal/store"
)

// MediaDir is the directory in the data directory holding uploaded images.
const MediaDir = "media"

// Upload limits. Images are decoded and re-encoded, so whatever else an
// upload carried (metadata, a second format hiding in it) is not kept.
const (
	MaxAvatarBytes = 2 << 20
	MaxBannerBytes = 5 << 20
	// MaxImageSide bounds both dimensions, checked from the header before
	// any pixel is decoded, so a small file claiming a huge image (a
	// decompression bomb) is refused cheaply.
	MaxImageSide = 4096
	AvatarSide   = 256
	MaxBannerW   = 1920
)

// Errors of image uploads.
var (
	ErrImageTooLarge = errors.New("image file too large")
	ErrImageType     = errors.New("not a PNG, JPEG or GIF image")
	ErrImageSize     = fmt.Errorf("image dimensions must be 1 to %d pixels on each side", MaxImageSide)
	ErrImageTrailing = errors.New("image has data after its end")
)

// mediaName is the only shape of file name the media directory holds:
// 128 random bits in hex and the format's extension.
var mediaName = regexp.MustCompile(`^[0-9a-f]{32}\.(png|jpg)$`)

// ValidMediaName reports whether name could be a stored image's name.
func ValidMediaName(name string) bool { return mediaName.MatchString(name) }

// MediaContentType returns the Content-Type of a stored image's name.
func MediaContentType(name string) string {
	if filepath.Ext(name) == ".png" {
		return "image/png"
	}
	return "image/jpeg"
}

// Media stores channel images in one directory. Names are generated, never
// taken from a request, and every access goes through an os.Root, so no
// name can reach outside it. It is safe for concurrent use.
type Media struct {
	root *os.Root
}

// OpenMedia opens (creating with mode 0700) dataDir/media.
func OpenMedia(dataDir string) (*Media, error) {
	dir := filepath.Join(dataDir, MediaDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create media directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open media directory: %w", err)
	}
	return &Media{root: root}, nil
}

// Close releases the directory.
func (m *Media) Close() error { return m.root.Close() }

// Open opens the stored image name (which must pass ValidMediaName).
func (m *Media) Open(name string) (*os.File, error) {
	if !ValidMediaName(name) {
		return nil, fmt.Errorf("media %q: %w", truncate(name), fs.ErrNotExist)
	}
	return m.root.Open(name)
}

// Save processes an uploaded image of kind read from r (at most the kind's
// byte limit) and stores the result under a new name, which it returns.
func (m *Media) Save(kind store.ImageKind, r io.Reader) (string, error) {
	limit := int64(MaxAvatarBytes)
	if kind == store.ImageBanner {
		limit = MaxBannerBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return "", fmt.Errorf("read %s upload: %w", kind, err)
	}
	if int64(len(data)) > limit {
		return "", fmt.Errorf("%s upload over %d bytes: %w", kind, limit, ErrImageTooLarge)
	}
	img, err := decodeImage(data)
	if err != nil {
		return "", fmt.Errorf("%s upload: %w", kind, err)
	}
	var out bytes.Buffer
	ext := ".png"
	if kind == store.ImageBanner {
		ext = ".jpg"
		err = jpeg.Encode(&out, bannerImage(img), &jpeg.Options{Quality: 85})
	} else {
		err = png.Encode(&out, avatarImage(img))
	}
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", kind, err)
	}
	return m.write(out.Bytes(), ext)
}

// Remove deletes the stored image name; a missing file or "" is no error.
func (m *Media) Remove(name string) error {
	if name == "" {
		return nil
	}
	if !ValidMediaName(name) {
		return fmt.Errorf("remove media %q: invalid name", truncate(name))
	}
	if err := m.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove media: %w", err)
	}
	return nil
}

// write stores data under a fresh random name, through a temporary file so
// a reader never sees half an image.
func (m *Media) write(data []byte, ext string) (string, error) {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails: crypto/rand crashes the program instead
	name := hex.EncodeToString(id[:]) + ext
	tmp := name + ".tmp"
	f, err := m.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("store image: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = m.root.Rename(tmp, name)
	}
	if err != nil {
		_ = m.root.Remove(tmp)
		return "", fmt.Errorf("store image: %w", err)
	}
	return name, nil
}

// decodeImage sniffs data's format from its first bytes (never from a
// declared type or file name), checks the dimensions from the header, then
// decodes it. A file that goes on after the image's end (a polyglot, such
// as an image with a script or archive appended) is refused.
func decodeImage(data []byte) (image.Image, error) {
	var (
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
		ends         func([]byte, *bytes.Reader) bool
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		decodeConfig, decode = png.DecodeConfig, png.Decode
		// The PNG decoder reads exactly up to the end of IEND.
		ends = func(_ []byte, r *bytes.Reader) bool { return r.Len() == 0 }
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
		// The JPEG decoder reads ahead; the file must end with EOI.
		ends = func(b []byte, _ *bytes.Reader) bool { return bytes.HasSuffix(b, []byte("\xff\xd9")) }
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		decodeConfig, decode = gif.DecodeConfig, gif.Decode
		// Only the first frame is decoded; the file must end with the
		// trailer byte.
		ends = func(b []byte, _ *bytes.Reader) bool { return bytes.HasSuffix(b, []byte{0x3b}) }
	default:
		return nil, ErrImageType
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrImageType, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return nil, fmt.Errorf("%dx%d: %w", cfg.Width, cfg.Height, ErrImageSize)
	}
	r := bytes.NewReader(data)
	img, err := decode(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrImageType, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%w: header and image disagree", ErrImageType)
	}
	if !ends(data, r) {
		return nil, ErrImageTrailing
	}
	return img, nil
}

// avatarImage crops the centre square of img and scales it to
// AvatarSide×AvatarSide.
func avatarImage(img image.Image) image.Image {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-side)/2
	y0 := b.Min.Y + (b.Dy()-side)/2
	return scale(img, image.Rect(x0, y0, x0+side, y0+side), AvatarSide, AvatarSide)
}

// bannerImage scales img down to at most MaxBannerW wide, keeping its
// shape, on an opaque background (JPEG has no transparency).
func bannerImage(img image.Image) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > MaxBannerW {
		h = max(1, h*MaxBannerW/w)
		w = MaxBannerW
	}
	scaled := scale(img, b, w, h)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	draw.Draw(out, out.Bounds(), scaled, image.Point{}, draw.Over)
	return out
}

// scale resamples the src rectangle of img to w×h by averaging the source
// pixels each destination pixel covers (box filter); enlarging repeats
// pixels.
func scale(img image.Image, src image.Rectangle, w, h int) *image.RGBA {
	in := image.NewRGBA(image.Rect(0, 0, src.Dx(), src.Dy()))
	draw.Draw(in, in.Bounds(), img, src.Min, draw.Src)
	sw, sh := src.Dx(), src.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var r, g, b, a, n uint64
			for sy := y0; sy < y1; sy++ {
				row := in.Pix[sy*in.Stride:]
				for sx := x0; sx < x1; sx++ {
					p := row[sx*4 : sx*4+4]
					r += uint64(p[0])
					g += uint64(p[1])
					b += uint64(p[2])
					a += uint64(p[3])
					n++
				}
			}
			o := out.Pix[y*out.Stride+x*4:]
			o[0], o[1], o[2], o[3] = uint8(r/n), uint8(g/n), uint8(b/n), uint8(a/n)
		}
	}
	return out
}

// PlaceholderPreview returns a 320×180 PNG shown where a live preview
// image would be until stream thumbnails exist: a dark gradient.
func PlaceholderPreview() []byte { return placeholder }

var placeholder = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 180))
	for y := range 180 {
		for x := range 320 {
			v := uint8(24 + (x+y)*40/500)
			img.SetRGBA(x, y, color.RGBA{v, v, uint8(min(255, int(v)+24)), 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // encoding an in-memory RGBA into memory cannot fail
	return b.Bytes()
}()
