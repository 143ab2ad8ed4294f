package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The cookies: a signed-in session, which holds a random ID the server
// keeps (see sessions), and a sign-in waiting for its code, which holds
// the number, sealed.
//
// Their names start with __Host-, so that a browser takes them only with
// Secure and Path=/ and from the host itself, over https (or on loopback,
// which browsers count as secure): a page on a subdomain cannot set them,
// nor one served over plain http on another port of the host, nor can
// any page add one under a narrower path to be sent first. A page on
// another port of the host that is itself secure still can (cookies do not
// tell ports apart): so sign-out ends every session cookie it is sent, and
// a pending sign-in only counts with the page that started it (see flow).
const (
	sessionCookie = "__Host-signin_session"
	pendingCookie = "__Host-signin_pending"
)

// cookieJar seals cookie values with AES-GCM, so that the number they hold
// can be neither read nor forged, and binds each to its cookie's name.
type cookieJar struct{ aead cipher.AEAD }

func newCookieJar(secret []byte) (cookieJar, error) {
	if len(secret) < 32 {
		return cookieJar{}, errors.New("signin: the cookie secret needs 32 bytes or more")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("signin cookies v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return cookieJar{}, err
	}
	aead, err := cipher.NewGCM(block)
	return cookieJar{aead}, err
}

// write sets cookie name to value until ttl from now.
func (j cookieJar) write(w http.ResponseWriter, name, value string, ttl time.Duration) {
	expires := time.Now().Add(ttl)
	nonce := make([]byte, j.aead.NonceSize())
	_, _ = rand.Read(nonce)
	plain := strconv.FormatInt(expires.Unix(), 10) + "|" + value
	sealed := j.aead.Seal(nonce, nonce, []byte(plain), []byte(name))
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/",
		Expires: expires, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: true,
	})
}

// open returns the value a cookie named name holds, if write sealed it and
// it has not expired.
func (j cookieJar) open(name, cookieValue string) (string, bool) {
	sealed, err := base64.RawURLEncoding.DecodeString(cookieValue)
	if err != nil || len(sealed) < j.aead.NonceSize() {
		return "", false
	}
	nonce, box := sealed[:j.aead.NonceSize()], sealed[j.aead.NonceSize():]
	plain, err := j.aead.Open(nil, nonce, box, []byte(name))
	if err != nil {
		return "", false
	}
	expiry, value, ok := strings.Cut(string(plain), "|")
	unix, err := strconv.ParseInt(expiry, 10, 64)
	if !ok || err != nil || time.Now().Unix() >= unix {
		return "", false
	}
	return value, true
}

func (j cookieJar) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: true})
}
