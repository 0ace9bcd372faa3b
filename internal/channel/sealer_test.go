package channel

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func testSealer(t *testing.T) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{7}, SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	s := testSealer(t)
	for _, plain := range [][]byte{[]byte(GenerateKey()), {}, bytes.Repeat([]byte("x"), 1000)} {
		sealed := s.Seal(plain, []byte("ad"))
		if len(plain) > 3 && bytes.Contains(sealed, plain[3:]) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, []byte("ad"))
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	a, b := s.Seal([]byte("same"), nil), s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same value are equal: nonce reused")
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	s := testSealer(t)
	other, err := NewSealer(bytes.Repeat([]byte{8}, SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("sk_secret"), []byte("ad"))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	version := bytes.Clone(sealed)
	version[0] = 9
	for _, tc := range []struct {
		name   string
		sealer *Sealer
		sealed []byte
		ad     string
	}{
		{"wrong secret", other, sealed, "ad"},
		{"wrong additional data", s, sealed, "other"},
		{"altered", s, flipped, "ad"},
		{"unknown version", s, version, "ad"},
		{"truncated", s, sealed[:10], "ad"},
		{"empty", s, nil, "ad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.sealer.Open(tc.sealed, []byte(tc.ad)); !errors.Is(err, ErrUnseal) {
				t.Errorf("Open error = %v, want ErrUnseal", err)
			}
		})
	}
}

func TestNewSealerSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded", n)
		}
	}
}

func TestOpenSealer(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := OpenSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != SecretSize {
		t.Errorf("secret file: mode %o size %d, want 600 and %d", fi.Mode().Perm(), fi.Size(), SecretSize)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode: %v %v, want 700", di.Mode().Perm(), err)
	}
	s2, err := OpenSealer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Open(s1.Seal([]byte("x"), nil), nil); err != nil {
		t.Errorf("second load uses another secret: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only %s", len(entries), SecretFile)
	}

	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSealer(dir); err == nil {
		t.Error("OpenSealer accepted a 5-byte secret")
	}
}

func TestOpenSealerConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 16
	sealers := make([]*Sealer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sealers[i], errs[i] = OpenSealer(dir) })
	}
	wg.Wait()
	msg := rand.Text()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("OpenSealer %d: %v", i, errs[i])
		}
		if _, err := sealers[i].Open(sealers[0].Seal([]byte(msg), nil), nil); err != nil {
			t.Errorf("sealer %d disagrees on the secret", i)
		}
	}
}

func TestWriteExclusive(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), SecretFile)
	if err := writeExclusive(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := writeExclusive(p, []byte("two")); !errors.Is(err, os.ErrExist) {
		t.Errorf("second write: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Errorf("file = %q, want the first write", b)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode: %v", err)
	}
}
