package passcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/connectorkit/twiliosms"
)

// newCode draws a code of s.length digits, uniformly, from crypto/rand:
// a random 64-bit number below the largest multiple of 10^length it holds,
// drawn again when it is not (rejection sampling, as crypto/rand.Int does,
// so there is no modulo bias), and written with its leading zeros.
func (s *Service) newCode() (string, error) {
	limit := uint64(1)
	for range s.length {
		limit *= 10
	}
	unbiased := math.MaxUint64 - math.MaxUint64%limit
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("passcode: cannot draw a code: %w", err)
		}
		if n := binary.LittleEndian.Uint64(b[:]); n < unbiased {
			digits := strconv.FormatUint(n%limit, 10)
			return strings.Repeat("0", s.length-len(digits)) + digits, nil
		}
	}
}

// macMessage is what a code's HMAC signs: the code bound to its usage type
// and number, each part ended by a NUL.
func macMessage(usage twiliosms.UsageType, e164, code string) []byte {
	var b []byte
	for _, part := range []string{"twiliosms passcode v1", string(usage), e164, code} {
		b = append(append(b, part...), 0)
	}
	return b
}

// keyring holds the HMAC keys inside closures: no field of a Service holds
// key bytes, so a Service printed by reflection (by value, or inside a
// struct of the caller's) shows none.
type keyring struct {
	count int
	// mac returns msg's HMAC-SHA256 under key i; key 0 signs.
	mac func(i int, msg []byte) []byte
	// ids are each key's fingerprint, in the same order (see keyID).
	ids []string
	// names names the store's records, with a key drawn from the last
	// key: a new key added first signs at once and moves nothing in the
	// store.
	names *namer
}

// keyIDSize is how many bytes of a key's fingerprint a code record keeps.
const keyIDSize = 8

// keyID is a key's fingerprint: the first bytes of an HMAC under it of a
// fixed label. It names the key without revealing anything of it, so that
// an instance can tell a code signed under a key it lacks from a wrong
// code.
func keyID(key []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("twiliosms passcode key id v1"))
	return string(h.Sum(nil)[:keyIDSize])
}

func newKeyring(keys [][]byte) keyring {
	pools := make([]*sync.Pool, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		own := slices.Clone(k)
		// An HMAC's state is reused: making one hashes its key twice.
		pools[i] = &sync.Pool{New: func() any { return hmac.New(sha256.New, own) }}
		ids[i] = keyID(k)
	}
	var names *namer
	if len(keys) > 0 {
		names = newNamer(namingKey(keys[len(keys)-1]))
	}
	return keyring{count: len(keys), ids: ids, names: names, mac: func(i int, msg []byte) []byte {
		h := pools[i].Get().(hash.Hash)
		h.Reset()
		h.Write(msg)
		sum := h.Sum(make([]byte, 0, sha256.Size))
		pools[i].Put(h)
		return sum
	}}
}

// namingKey is the key a namer hashes with, drawn from secret: a key of
// its own, so that no store key is an HMAC a code's could be matched to.
func namingKey(secret []byte) [sha256.Size]byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("twiliosms: the names of store records"))
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}

// sign returns msg's HMAC under the signing key.
func (k keyring) sign(msg []byte) []byte { return k.mac(0, msg) }

// macs returns msg's HMAC under every key, for a check.
func (k keyring) macs(msg []byte) [][]byte {
	out := make([][]byte, k.count)
	for i := range out {
		out[i] = k.mac(i, msg)
	}
	return out
}

// maxCodeInput bounds what readCode looks at: no code of at most 10
// digits, however spaced, is longer.
const maxCodeInput = 256

// readCode reads what a user typed as a code of length ASCII digits:
// spaces and dashes are dropped, and every Unicode decimal digit reads as
// its value, so a code typed with Arabic-Indic or full-width digits works.
// It reports false when what is left is not exactly length digits.
func readCode(typed string, length int) (string, bool) {
	if len(typed) > maxCodeInput {
		return "", false
	}
	var b strings.Builder
	b.Grow(length)
	for _, r := range typed {
		switch {
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
		case unicode.IsDigit(r) && b.Len() < length:
			b.WriteByte(byte('0' + digitValue(r)))
		default:
			return "", false
		}
	}
	if b.Len() != length {
		return "", false
	}
	return b.String(), true
}

// digitValue is the value of the decimal digit r. Unicode encodes every
// decimal digit (general category Nd) in runs of ten, 0 to 9, and promises
// to keep doing so (its stability policy), so r's value is its distance
// from the start of its run of Nd characters, modulo ten.
func digitValue(r rune) int {
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}
