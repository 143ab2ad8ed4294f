package verify

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Statuses a verification has, as Twilio names them. An approved or
// canceled verification is deleted, as Twilio deletes it, so only its
// update answer shows those two.
const (
	StatusPending            = "pending"
	StatusApproved           = "approved"
	StatusCanceled           = "canceled"
	StatusMaxAttemptsReached = "max_attempts_reached"
)

// record is a verification as it is kept, before sealing: the number and
// the code are in it, so it is only ever stored encrypted, and never
// logged.
type record struct {
	SID       string    `json:"sid"`
	To        string    `json:"to"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	ExpiresAt time.Time `json:"expires_at"`
	Attempts  []attempt `json:"attempts"`
	// Code is the code the verification's SMS carry, which a resend texts
	// again, as Verify's resends do; "" in a record written before codes
	// were kept, whose resend draws a new one.
	Code string `json:"code,omitempty"`
}

// attempt is one SMS sent for a verification.
type attempt struct {
	SID  string    `json:"sid"`
	Time time.Time `json:"time"`
}

// Entry is a verification as a Store keeps it: its SID, its revision, the
// index key of its number, and its sealed record. A Store sees no number
// and no code.
type Entry struct {
	SID string
	// Rev is the entry's revision, 1 when created; Update writes only over
	// the revision it was read at.
	Rev int64
	// Index is the keyed hash of the usage type and the number under which
	// the number's pending verification is found.
	Index string
	// Data is the sealed record.
	Data []byte
}

// Errors of a Store.
var (
	// ErrNotFound means no such verification: never created, deleted, or
	// expired.
	ErrNotFound = errors.New("verify: verification not found")
	// ErrConflict means the entry changed since it was read.
	ErrConflict = errors.New("verify: verification changed meanwhile")
)

// Store keeps verification entries, shared by every instance of the
// server when it is in Redis. Every entry and index key expires with its
// verification. Each method is one atomic step.
type Store interface {
	// Find returns the entry the first present of keys names, or
	// ErrNotFound. keys are one index key per secret, newest first.
	Find(ctx context.Context, keys []string) (Entry, error)
	// Get returns the entry sid, or ErrNotFound.
	Get(ctx context.Context, sid string) (Entry, error)
	// Create stores e at revision 1 and points e.Index at it, for ttl,
	// unless e.Index already names a live entry: then it stores nothing
	// and returns that one, with created false.
	Create(ctx context.Context, e Entry, ttl time.Duration) (stored Entry, created bool, err error)
	// Update writes e over the stored entry when that is still at e.Rev,
	// as revision e.Rev+1, and extends it and its index key (when the key
	// names it) to ttl. It returns ErrConflict when the entry changed,
	// ErrNotFound when it is gone.
	Update(ctx context.Context, e Entry, ttl time.Duration) (Entry, error)
	// Delete removes the entry sid and its index key when the key names
	// it.
	Delete(ctx context.Context, e Entry) error
}

// keyring seals records and names index keys under keys derived from the
// server's secrets: the first seals and indexes new verifications, and
// every one opens and finds them, so a secret can rotate.
type keyring struct {
	aeads   []cipher.AEAD
	indexes [][]byte
}

// newKeyring derives a sealing key and an index key from each secret with
// HKDF-SHA256, so neither is the passcode HMAC key itself.
func newKeyring(secrets [][]byte) (*keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("verify: no secret")
	}
	k := &keyring{}
	for _, s := range secrets {
		sealKey, err := hkdf.Key(sha256.New, s, nil, "twiliosms-server verification record v1", 32)
		if err != nil {
			return nil, err
		}
		indexKey, err := hkdf.Key(sha256.New, s, nil, "twiliosms-server verification index v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(sealKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads = append(k.aeads, aead)
		k.indexes = append(k.indexes, indexKey)
	}
	return k, nil
}

// seal encrypts r with AES-GCM under the first key, bound to its SID.
func (k *keyring) seal(r record) ([]byte, error) {
	plain, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	aead := k.aeads[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return aead.Seal(nonce, nonce, plain, []byte(r.SID)), nil
}

// open decrypts the entry's record with whichever key sealed it.
func (k *keyring) open(e Entry) (record, error) {
	for _, aead := range k.aeads {
		n := aead.NonceSize()
		if len(e.Data) < n {
			break
		}
		plain, err := aead.Open(nil, e.Data[:n], e.Data[n:], []byte(e.SID))
		if err != nil {
			continue
		}
		var r record
		if err := json.Unmarshal(plain, &r); err != nil {
			return record{}, fmt.Errorf("verify: verification %s: %w", e.SID, err)
		}
		return r, nil
	}
	return record{}, fmt.Errorf("verify: verification %s does not open with any TWILIOSMS_SECRET key; was the secret rotated out while it was pending?", e.SID)
}

// indexKeys are the index keys of a usage type and an E.164 number, one
// per secret, newest first: keyed hashes, so the store never sees the
// number.
func (k *keyring) indexKeys(usage, e164 string) []string {
	keys := make([]string, len(k.indexes))
	for i, key := range k.indexes {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(usage))
		mac.Write([]byte{0})
		mac.Write([]byte(e164))
		keys[i] = hex.EncodeToString(mac.Sum(nil))
	}
	return keys
}

// newSID returns a random SID with Twilio's form: a two-letter prefix and
// 32 hex digits.
func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b[:])
}
