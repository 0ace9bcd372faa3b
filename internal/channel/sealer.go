package channel

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the file in the data directory holding the 32-byte secret
// that seals stream keys. Back it up with the database: without it, stored
// keys cannot be shown again (they still authenticate; rotate them).
const SecretFile = "secret.key"

// SecretSize is the length of the secret: an AES-256 key.
const SecretSize = 32

// sealVersion starts every sealed value, leaving room for another scheme.
const sealVersion = 1

// ErrUnseal means a sealed value was made with another secret or altered.
var ErrUnseal = errors.New("cannot unseal: wrong secret or damaged data")

// Sealer encrypts small secrets (stream keys) with AES-256-GCM under the
// data directory's secret, so that a copy of the database alone does not
// reveal them. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a SecretSize-byte secret.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("sealing secret: want %d bytes, got %d", SecretSize, len(secret))
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("sealing secret: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("sealing secret: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// OpenSealer returns a Sealer for the secret in dataDir/secret.key, creating
// the directory (0700) and the file (0600, from crypto/rand) if missing.
// Processes starting at the same moment agree on one secret.
func OpenSealer(dataDir string) (*Sealer, error) {
	secret, err := loadOrCreateSecret(filepath.Join(dataDir, SecretFile))
	if err != nil {
		return nil, err
	}
	return NewSealer(secret)
}

// Seal encrypts plaintext. additionalData is authenticated but not
// encrypted: Open must be given the same.
func (s *Sealer) Seal(plaintext, additionalData []byte) []byte {
	return s.aead.Seal([]byte{sealVersion}, nil, plaintext, additionalData)
}

// Open decrypts what Seal made, or returns ErrUnseal.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], additionalData)
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}

func loadOrCreateSecret(path string) ([]byte, error) {
	b, err := readSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Write the secret to a temporary file (0600), then hard-link it into
	// place: the link fails if another process got there first, and no one
	// ever reads a half-written secret.
	secret := make([]byte, SecretSize)
	_, _ = rand.Read(secret) // never fails: crypto/rand crashes the program instead
	tmp, err := os.CreateTemp(dir, "."+SecretFile+".*")
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(secret)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", path, err)
	}
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links on this file system (vfat, some network shares):
		// create the file exclusively instead.
		err = writeExclusive(path, secret)
	}
	if errors.Is(err, fs.ErrExist) {
		return readSecret(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", path, err)
	}
	return secret, nil
}

func writeExclusive(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if len(b) != SecretSize {
		return nil, fmt.Errorf("secret %s: want %d bytes, got %d", path, SecretSize, len(b))
	}
	return b, nil
}
