package channel

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"log/slog"
	"strconv"
)

// KeyPrefix starts every stream key, so that a leaked key is easy to
// recognise (secret scanners, logs).
const KeyPrefix = "sk_"

// keyLen is the length of a stream key: the prefix and 160 random bits in
// 32 base32 characters.
const keyLen = len(KeyPrefix) + 32

const keyAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

var keyEncoding = base32.NewEncoding(keyAlphabet).WithPadding(base32.NoPadding)

// StreamKey is a channel's publishing secret. It formats and logs redacted
// (sk_…9f); convert it with string(k) where the key must really be shown.
type StreamKey string

// GenerateKey returns a new random key: "sk_" and 32 lowercase base32
// characters encoding 20 bytes from crypto/rand.
func GenerateKey() StreamKey {
	var b [20]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return StreamKey(KeyPrefix + keyEncoding.EncodeToString(b[:]))
}

// String returns the redacted key, e.g. sk_…9f.
func (k StreamKey) String() string { return redact(string(k)) }

// GoString returns the redacted key quoted, so %#v does not reveal it.
func (k StreamKey) GoString() string { return strconv.Quote(k.String()) }

// LogValue implements slog.LogValuer: the key logs redacted.
func (k StreamKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// redact keeps the last two characters of a key; short values, which are no
// real keys, show nothing.
func redact(s string) string {
	if len(s) < 16 {
		return KeyPrefix + "…"
	}
	return KeyPrefix + "…" + s[len(s)-2:]
}

// hint is what the store keeps to tell keys apart: the last 4 characters.
func hint(k StreamKey) string { return string(k[len(k)-4:]) }

// HashKey returns the SHA-256 of key, under which the store finds it.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// wellFormed reports whether s looks like a key GenerateKey makes, so that
// garbage is refused without a database lookup.
func wellFormed(s string) bool {
	if len(s) != keyLen || s[:len(KeyPrefix)] != KeyPrefix {
		return false
	}
	for i := len(KeyPrefix); i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}
