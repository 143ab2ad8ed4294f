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
// a subject is a hash of what it names, keyed (see namer), and a key is a
// subject, a colon and the record's name (see passcode/storage). Every
// record of one subject may change in one atomic step, and a sharded
// store keeps them together:
//
//	recipient  r<128-bit keyed hash of the E.164 number>
//	           :c:<usage type> its codes, :o:<hash> relays' duplicate keys,
//	           :s and :f its send and failed-check windows,
//	           :l the guard's ledger of its recent sends, and its marks
//	address    i<64-bit keyed hash of the IPv4 address or IPv6 /64>
//	           :s and :f its windows, :g its guard counts and countries
//	network    n<64-bit keyed hash of the IPv6 /48>: :s and :f its windows
//	range      g<128-bit keyed hash of the number's range>: :g its guard counts
//	country    c<region>: :s its window, :g its guard counts
//	service    s: :s its window, :g its guard counts
//
// The 64-bit subjects of addresses are also kept, as numbers, in the
// guard's ledger, so that a send can be credited to the address that
// asked for it.

// digest is the SHA-256 of the parts, each ended by a NUL, after key
// (none for nil), hashed from a buffer on the stack: it is on every
// request's path several times.
func digest(key []byte, parts ...string) [sha256.Size]byte {
	var buf [160]byte
	b := append(buf[:0], key...)
	for _, p := range parts {
		b = append(append(b, p...), 0)
	}
	return sha256.Sum256(b)
}

// namer names the records of a Service's numbers and addresses. Its
// hashes are keyed with a key drawn from the last WithSecret key:
// unkeyed, a store's keys could be matched to numbers by hashing every
// number of a country, which takes minutes. Services that share a store
// and a last secret name alike. It caches recent readings, which cost a
// hash each.
type namer struct {
	key     [sha256.Size]byte
	clients boundedCache[*client]
	ranges  boundedCache[string] // a range's guard key, by range
}

func newNamer(key [sha256.Size]byte) *namer {
	return &namer{key: key, clients: newBoundedCache[*client](1 << 14), ranges: newBoundedCache[string](1 << 14)}
}

// subject128 is a subject named by the first 128 bits of a keyed digest.
func (n *namer) subject128(prefix byte, parts ...string) string {
	sum := digest(n.key[:], parts...)
	var out [33]byte
	out[0] = prefix
	hex.Encode(out[1:], sum[:16])
	return string(out[:])
}

// addressID is the 64-bit keyed hash an address's subject is named by.
func (n *namer) addressID(kind, addr string) int64 {
	sum := digest(n.key[:], kind, addr)
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

// recipientKeys are the keys of a number's records.
type recipientKeys struct {
	subject, sends, fails, ledger string
}

// recipientKeys names the records of the number e164, in one string.
func (n *namer) recipientKeys(e164 string) recipientKeys {
	subject := n.subject128('r', "recipient", e164)
	all := subject + ":s" + subject + ":f" + subject + ":l"
	l := len(subject) + 2
	return recipientKeys{subject: subject, sends: all[:l], fails: all[l : 2*l], ledger: all[2*l:]}
}

// rangeGuardKey is the guard counts' key of the range of e164. A range's
// numbers come in runs: the keys of recent ranges are cached.
func (n *namer) rangeGuardKey(e164 string) string {
	r := numberRange(e164)
	if k, ok := n.ranges.get(r); ok {
		return k
	}
	k := key(n.subject128('g', "range", r), "g")
	n.ranges.put(r, k)
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

// readClient reads ip ("" for none). An address that does not parse counts
// as written. A client's requests come in runs: recent readings are
// cached.
func (n *namer) readClient(ip string) *client {
	if ip == "" {
		return &client{}
	}
	if c, ok := n.clients.get(ip); ok {
		return c
	}
	c := &client{ip: ip}
	subject := ip
	if addr, err := netip.ParseAddr(ip); err == nil {
		addr = addr.Unmap()
		subject = addr.String()
		if addr.Is6() {
			p64, _ := addr.Prefix(64)
			p48, _ := addr.Prefix(48)
			subject = p64.String()
			c.network = addressSubject('n', n.addressID("network", p48.String()))
		}
	}
	c.id = n.addressID("address", subject)
	c.subject = addressSubject('i', c.id)
	c.keys = newSubjectKeys(c.subject)
	if c.network != "" {
		c.networkKeys = newSubjectKeys(c.network)
	}
	n.clients.put(ip, c)
	return c
}

// numberRange is the number's range: its E.164 form without its last
// rangeDigits digits, and never shorter than "+" and three digits.
func numberRange(e164 string) string {
	return e164[:max(len(e164)-rangeDigits, min(len(e164), 4))]
}
