package passcode

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"sync"

	"github.com/connectorkit/twiliosms"
)

// A Store sees subjects and keys, never a number, an address or a code:
// a subject is a hash of what it names, and a key is a subject, a colon
// and the record's name (see passcode/storage). Every record of one
// subject may change in one atomic step, and a sharded store keeps them
// together:
//
//	recipient  r<128-bit hash of the E.164 number>
//	           :c:<usage type> its codes, :o:<hash> relays' duplicate keys,
//	           :s and :f its send and failed-check windows,
//	           :l the guard's ledger of its recent sends, and its marks
//	address    i<64-bit hash of the IPv4 address or IPv6 /64>
//	           :s and :f its windows, :g its guard counts and countries
//	network    n<64-bit hash of the IPv6 /48>: :s and :f its windows
//	range      g<128-bit hash of the number's range>: :g its guard counts
//	country    c<region>: :s its window, :g its guard counts
//	service    s: :s its window, :g its guard counts
//
// The 64-bit subjects of addresses are also kept, as numbers, in the
// guard's ledger, so that a send can be credited to the address that
// asked for it.

// digest is the SHA-256 of the parts, each ended by a NUL, hashed from a
// buffer on the stack: it is on every request's path several times.
func digest(parts ...string) [sha256.Size]byte {
	var buf [128]byte
	b := buf[:0]
	for _, p := range parts {
		b = append(append(b, p...), 0)
	}
	return sha256.Sum256(b)
}

// subject128 is a subject named by the first 128 bits of a digest.
func subject128(prefix byte, parts ...string) string {
	sum := digest(parts...)
	var out [33]byte
	out[0] = prefix
	hex.Encode(out[1:], sum[:16])
	return string(out[:])
}

// addressID is the 64-bit hash an address's subject is named by.
func addressID(kind, addr string) int64 {
	sum := digest(kind, addr)
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1) // non-negative, as a store keeps it
}

// addressSubject is the subject of an address (prefix 'i') or a network
// ('n') named by id.
func addressSubject(prefix byte, id int64) string {
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], uint64(id))
	var out [17]byte
	out[0] = prefix
	hex.Encode(out[1:], raw[:])
	return string(out[:])
}

// recipientSubject is the subject of an E.164 number.
func recipientSubject(e164 string) string { return subject128('r', "recipient", e164) }

// recipientKeys are the keys of a number's records.
type recipientKeys struct {
	subject, sends, fails, ledger string
}

// newRecipientKeys names the records of the number e164, in one string.
func newRecipientKeys(e164 string) recipientKeys {
	subject := recipientSubject(e164)
	all := subject + ":s" + subject + ":f" + subject + ":l"
	n := len(subject) + 2
	return recipientKeys{subject: subject, sends: all[:n], fails: all[n : 2*n], ledger: all[2*n:]}
}

// rangeSubject is the subject of a number's range.
func rangeSubject(e164 string) string { return subject128('g', "range", numberRange(e164)) }

// rangeKeys caches the guard keys of recent ranges: a range's numbers come
// in runs, and a key costs a hash.
var rangeKeys = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

// rangeGuardKey is the guard counts' key of the range of e164.
func rangeGuardKey(e164 string) string {
	r := numberRange(e164)
	rangeKeys.Lock()
	k, ok := rangeKeys.m[r]
	rangeKeys.Unlock()
	if ok {
		return k
	}
	k = key(rangeSubject(e164), "g")
	rangeKeys.Lock()
	if len(rangeKeys.m) >= maxCachedClients {
		clear(rangeKeys.m)
	}
	rangeKeys.m[r] = k
	rangeKeys.Unlock()
	return k
}

// countrySubject is the subject of a destination region; regions are not
// secret, and a few hundred of them are named.
func countrySubject(region string) string { return "c" + region }

// serviceSubject is the subject of the whole service, and serviceGuardKey
// its guard counts' key.
const (
	serviceSubject  = "s"
	serviceGuardKey = serviceSubject + ":g"
)

// countryKeys caches each region's guard key: there are a few hundred.
var countryKeys sync.Map

// countryGuardKey is a destination region's guard counts' key.
func countryGuardKey(region string) string {
	if k, ok := countryKeys.Load(region); ok {
		return k.(string)
	}
	k := key(countrySubject(region), "g")
	countryKeys.Store(region, k)
	return k
}

// subjectKeys are the keys of an address's (or a network's) records.
type subjectKeys struct {
	sends, fails, guard string
}

func newSubjectKeys(subject string) subjectKeys {
	all := subject + ":s" + subject + ":f" + subject + ":g"
	n := len(subject) + 2
	return subjectKeys{sends: all[:n], fails: all[n : 2*n], guard: all[2*n:]}
}

// addressKeys are the keys of the address named by id.
func addressKeys(id int64) subjectKeys { return newSubjectKeys(addressSubject('i', id)) }

// key joins a subject and a record's name.
func key(subject, name string) string { return subject + ":" + name }

// codeKey is where a number's code for a usage type is kept.
func codeKey(recipient string, usage twiliosms.UsageType) string {
	return recipient + ":c:" + string(usage)
}

// client is a request's address, read once: its subject, and its IPv6
// network's when it is one.
type client struct {
	// ip is the address as the caller gave it; "" for none.
	ip string
	// id and subject name the address (an IPv6 address by its /64).
	id      int64
	subject string
	// network names an IPv6 address's /48, "" for IPv4.
	network string
	// keys and networkKeys are their records' keys.
	keys, networkKeys subjectKeys
}

// clients caches the reading of recent addresses: a client's requests
// come in runs, and a reading costs two hashes.
var clients = struct {
	sync.Mutex
	m map[string]*client
}{m: map[string]*client{}}

// maxCachedClients bounds the cache; when full, it starts over.
const maxCachedClients = 1 << 14

// readClient reads ip ("" for none). An address that does not parse counts
// as written.
func readClient(ip string) *client {
	if ip == "" {
		return &client{}
	}
	clients.Lock()
	c, ok := clients.m[ip]
	clients.Unlock()
	if ok {
		return c
	}
	c = &client{ip: ip}
	subject := ip
	if addr, err := netip.ParseAddr(ip); err == nil {
		addr = addr.Unmap()
		subject = addr.String()
		if addr.Is6() {
			p64, _ := addr.Prefix(64)
			p48, _ := addr.Prefix(48)
			subject = p64.String()
			c.network = addressSubject('n', addressID("network", p48.String()))
		}
	}
	c.id = addressID("address", subject)
	c.subject = addressSubject('i', c.id)
	c.keys = newSubjectKeys(c.subject)
	if c.network != "" {
		c.networkKeys = newSubjectKeys(c.network)
	}
	clients.Lock()
	if len(clients.m) >= maxCachedClients {
		clear(clients.m)
	}
	clients.m[ip] = c
	clients.Unlock()
	return c
}

// numberRange is the number's range: its E.164 form without its last
// rangeDigits digits, and never shorter than "+" and three digits.
func numberRange(e164 string) string {
	return e164[:max(len(e164)-rangeDigits, min(len(e164), 4))]
}
