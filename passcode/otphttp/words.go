package otphttp

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// The words Problem says, by key. Each language has every key; a test
// checks it.
const (
	wordMismatch      = "mismatch" // arg: tries left
	wordWrong         = "wrong"
	wordMalformed     = "malformed"
	wordExpired       = "expired"
	wordTooManyTries  = "too_many_tries"
	wordNotFound      = "not_found"
	wordWait          = "wait"           // arg: seconds
	wordChecksLimited = "checks_limited" // arg: seconds
	wordFraud         = "fraud"
	wordInvalidNumber = "invalid_number"
	wordUnreachable   = "unreachable"
	wordCountry       = "country"
	wordOptedOut      = "opted_out"
	wordUnavailable   = "unavailable"
	wordGeneric       = "generic"
	wordBadRequest    = "bad_request"
)

// languages are the languages of the words, English first: the one a
// reader whose languages match none of them gets.
var languages = []language.Tag{language.English, language.German, language.French, language.Spanish, language.Japanese}

// words are docs/passcode.md's "what to tell the end user", in each language.
// The plural forms follow each language's CLDR rules (French counts 0 and
// 1 as singular; Japanese has no plural), and "=0" says that no try is
// left.
var words = map[language.Tag]map[string]catalog.Message{
	language.English: {
		wordMismatch: plural.Selectf(1, "%d",
			"=0", "That code is not right: no tries left. Ask for a new code.",
			plural.One, "That code is not right: %d try left.",
			plural.Other, "That code is not right: %d tries left."),
		wordWrong:         catalog.String("That code is not right."),
		wordMalformed:     catalog.String("Type all the digits of the code from the text message."),
		wordExpired:       catalog.String("That code has expired. Ask for a new one."),
		wordTooManyTries:  catalog.String("Too many wrong tries. Ask for a new code."),
		wordNotFound:      catalog.String("That code is no longer valid. Ask for a new one."),
		wordWait:          catalog.String("Too soon: try again in %d s."),
		wordChecksLimited: catalog.String("Too many wrong codes. Try again in %d s."),
		wordFraud:         catalog.String("We can't text this number right now. Try another way to sign in."),
		wordInvalidNumber: catalog.String("That doesn't look like a phone number."),
		wordUnreachable:   catalog.String("That number can't receive text messages. Try another."),
		wordCountry:       catalog.String("We can't send codes to that country."),
		wordOptedOut:      catalog.String("You unsubscribed from our texts: reply START to us, then try again."),
		wordUnavailable:   catalog.String("We can't send texts right now. Try again in a moment."),
		wordGeneric:       catalog.String("Something went wrong on our side."),
		wordBadRequest:    catalog.String("We couldn't read that request. Reload the page and try again."),
	},
	language.German: {
		wordMismatch: plural.Selectf(1, "%d",
			"=0", "Dieser Code stimmt nicht: keine Versuche mehr. Fordern Sie einen neuen Code an.",
			plural.One, "Dieser Code stimmt nicht: noch %d Versuch.",
			plural.Other, "Dieser Code stimmt nicht: noch %d Versuche."),
		wordWrong:         catalog.String("Dieser Code stimmt nicht."),
		wordMalformed:     catalog.String("Geben Sie alle Ziffern des Codes aus der SMS ein."),
		wordExpired:       catalog.String("Dieser Code ist abgelaufen. Fordern Sie einen neuen an."),
		wordTooManyTries:  catalog.String("Zu viele falsche Versuche. Fordern Sie einen neuen Code an."),
		wordNotFound:      catalog.String("Dieser Code ist nicht mehr gültig. Fordern Sie einen neuen an."),
		wordWait:          catalog.String("Zu früh: versuchen Sie es in %d s erneut."),
		wordChecksLimited: catalog.String("Zu viele falsche Codes. Versuchen Sie es in %d s erneut."),
		wordFraud:         catalog.String("Wir können dieser Nummer gerade keine SMS senden. Melden Sie sich auf anderem Weg an."),
		wordInvalidNumber: catalog.String("Das sieht nicht nach einer Telefonnummer aus."),
		wordUnreachable:   catalog.String("Diese Nummer kann keine SMS empfangen. Versuchen Sie eine andere."),
		wordCountry:       catalog.String("In dieses Land können wir keine Codes senden."),
		wordOptedOut:      catalog.String("Sie haben unsere SMS abbestellt: Antworten Sie uns mit START und versuchen Sie es dann erneut."),
		wordUnavailable:   catalog.String("Wir können gerade keine SMS senden. Versuchen Sie es gleich noch einmal."),
		wordGeneric:       catalog.String("Bei uns ist etwas schiefgegangen."),
		wordBadRequest:    catalog.String("Diese Anfrage konnten wir nicht lesen. Laden Sie die Seite neu und versuchen Sie es erneut."),
	},
	language.French: {
		wordMismatch: plural.Selectf(1, "%d",
			"=0", "Ce code n'est pas le bon : plus aucun essai. Demandez-en un nouveau.",
			plural.One, "Ce code n'est pas le bon : encore %d essai.",
			plural.Other, "Ce code n'est pas le bon : encore %d essais."),
		wordWrong:         catalog.String("Ce code n'est pas le bon."),
		wordMalformed:     catalog.String("Saisissez tous les chiffres du code reçu par SMS."),
		wordExpired:       catalog.String("Ce code a expiré. Demandez-en un nouveau."),
		wordTooManyTries:  catalog.String("Trop d'essais incorrects. Demandez un nouveau code."),
		wordNotFound:      catalog.String("Ce code n'est plus valable. Demandez-en un nouveau."),
		wordWait:          catalog.String("Trop tôt : réessayez dans %d s."),
		wordChecksLimited: catalog.String("Trop de codes incorrects. Réessayez dans %d s."),
		wordFraud:         catalog.String("Nous ne pouvons pas envoyer de SMS à ce numéro pour le moment. Connectez-vous d'une autre façon."),
		wordInvalidNumber: catalog.String("Cela ne ressemble pas à un numéro de téléphone."),
		wordUnreachable:   catalog.String("Ce numéro ne peut pas recevoir de SMS. Essayez-en un autre."),
		wordCountry:       catalog.String("Nous ne pouvons pas envoyer de codes vers ce pays."),
		wordOptedOut:      catalog.String("Vous vous êtes désabonné de nos SMS : répondez-nous START, puis réessayez."),
		wordUnavailable:   catalog.String("Nous ne pouvons pas envoyer de SMS pour le moment. Réessayez dans un instant."),
		wordGeneric:       catalog.String("Un problème est survenu de notre côté."),
		wordBadRequest:    catalog.String("Nous n'avons pas pu lire cette demande. Rechargez la page et réessayez."),
	},
	language.Spanish: {
		wordMismatch: plural.Selectf(1, "%d",
			"=0", "Ese código no es correcto: no quedan intentos. Pide uno nuevo.",
			plural.One, "Ese código no es correcto: queda %d intento.",
			plural.Other, "Ese código no es correcto: quedan %d intentos."),
		wordWrong:         catalog.String("Ese código no es correcto."),
		wordMalformed:     catalog.String("Escribe todos los dígitos del código del SMS."),
		wordExpired:       catalog.String("Ese código ha caducado. Pide uno nuevo."),
		wordTooManyTries:  catalog.String("Demasiados intentos fallidos. Pide un código nuevo."),
		wordNotFound:      catalog.String("Ese código ya no es válido. Pide uno nuevo."),
		wordWait:          catalog.String("Demasiado pronto: vuelve a intentarlo en %d s."),
		wordChecksLimited: catalog.String("Demasiados códigos incorrectos. Vuelve a intentarlo en %d s."),
		wordFraud:         catalog.String("Ahora no podemos enviar SMS a este número. Inicia sesión de otra forma."),
		wordInvalidNumber: catalog.String("Eso no parece un número de teléfono."),
		wordUnreachable:   catalog.String("Ese número no puede recibir SMS. Prueba con otro."),
		wordCountry:       catalog.String("No podemos enviar códigos a ese país."),
		wordOptedOut:      catalog.String("Te diste de baja de nuestros SMS: respóndenos START y vuelve a intentarlo."),
		wordUnavailable:   catalog.String("Ahora no podemos enviar SMS. Vuelve a intentarlo en un momento."),
		wordGeneric:       catalog.String("Algo salió mal por nuestra parte."),
		wordBadRequest:    catalog.String("No pudimos leer esa solicitud. Recarga la página y vuelve a intentarlo."),
	},
	language.Japanese: {
		wordMismatch: plural.Selectf(1, "%d",
			"=0", "コードが正しくありません。残りの試行回数はありません。新しいコードを受け取ってください。",
			plural.Other, "コードが正しくありません（残り %d 回）。"),
		wordWrong:         catalog.String("コードが正しくありません。"),
		wordMalformed:     catalog.String("SMS に記載されたコードの数字をすべて入力してください。"),
		wordExpired:       catalog.String("コードの有効期限が切れました。新しいコードを受け取ってください。"),
		wordTooManyTries:  catalog.String("誤りが多すぎます。新しいコードを受け取ってください。"),
		wordNotFound:      catalog.String("このコードはもう使えません。新しいコードを受け取ってください。"),
		wordWait:          catalog.String("早すぎます。%d 秒後にもう一度お試しください。"),
		wordChecksLimited: catalog.String("誤ったコードが多すぎます。%d 秒後にもう一度お試しください。"),
		wordFraud:         catalog.String("現在この番号には SMS を送信できません。別の方法でサインインしてください。"),
		wordInvalidNumber: catalog.String("電話番号ではないようです。"),
		wordUnreachable:   catalog.String("この番号は SMS を受信できません。別の番号をお試しください。"),
		wordCountry:       catalog.String("この国にはコードを送信できません。"),
		wordOptedOut:      catalog.String("SMS の受信を停止しています。START と返信してから、もう一度お試しください。"),
		wordUnavailable:   catalog.String("現在 SMS を送信できません。しばらくしてからもう一度お試しください。"),
		wordGeneric:       catalog.String("こちらで問題が発生しました。"),
		wordBadRequest:    catalog.String("リクエストを読み取れませんでした。ページを再読み込みして、もう一度お試しください。"),
	},
}

// printers print the words, one per language, in the order of languages.
var printers = newPrinters()

func newPrinters() []*message.Printer {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	ps := make([]*message.Printer, len(languages))
	for i, tag := range languages {
		for key, msg := range words[tag] {
			if err := b.Set(tag, key, msg); err != nil {
				panic("otphttp: the " + tag.String() + " word " + key + ": " + err.Error())
			}
		}
		ps[i] = message.NewPrinter(tag, message.Catalog(b))
	}
	return ps
}

var matcher = language.NewMatcher(languages)

// printerFor picks the words' language for a reader: the first of their
// languages, by the list's order and q-values, that matches one of ours
// with high confidence (de-AT finds de, es-419 finds es), else English.
// acceptLanguage is an Accept-Language value or a single tag.
func printerFor(acceptLanguage string) *message.Printer {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return printers[0]
	}
	_, i, confidence := matcher.Match(tags...)
	if confidence < language.High {
		return printers[0]
	}
	return printers[i]
}
