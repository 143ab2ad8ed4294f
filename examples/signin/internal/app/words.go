package app

import (
	"golang.org/x/text/language"
)

// languages are the page's languages, English first: the one a reader
// whose languages match none of them gets.
var languages = []language.Tag{language.English, language.German, language.French, language.Spanish, language.Japanese}

var languageMatcher = language.NewMatcher(languages)

// pageLanguage picks the page's language from an Accept-Language header.
func pageLanguage(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return "en"
	}
	_, i, confidence := languageMatcher.Match(tags...)
	if confidence < language.High {
		return "en"
	}
	base, _ := languages[i].Base()
	return base.String()
}

// words are the page's words in each language. What to tell the end user
// when a send or a check fails is otphttp.Problem's, in the same
// languages.
var words = map[string]map[string]string{
	"en": {
		"title":        "Sign in with your phone",
		"phone_label":  "Phone number",
		"phone_hint":   "With its country code, such as +1 415 555 2671.",
		"send":         "Text me a code",
		"code_label":   "Code",
		"code_hint":    "We texted a code to %s.",
		"verify":       "Sign in",
		"other_number": "Use another number",
		"signed_in":    "You are signed in as %s.",
		"sign_out":     "Sign out",
		"signed_out":   "You are signed out.",
		"fake_banner":  "Demo: this page runs on twiliosmstest, a fake Twilio. No SMS leaves this machine; the codes arrive in the developer inbox below.",
		"real_banner":  "Live: codes go out as real SMS through Twilio.",
		"inbox":        "Developer inbox",
		"inbox_empty":  "No messages yet.",
		"cross_origin": "This form was sent from another site, so we ignored it.",
	},
	"de": {
		"title":        "Mit Ihrer Telefonnummer anmelden",
		"phone_label":  "Telefonnummer",
		"phone_hint":   "Mit Ländervorwahl, zum Beispiel +49 30 123456.",
		"send":         "Code per SMS senden",
		"code_label":   "Code",
		"code_hint":    "Wir haben einen Code an %s gesendet.",
		"verify":       "Anmelden",
		"other_number": "Andere Nummer verwenden",
		"signed_in":    "Sie sind als %s angemeldet.",
		"sign_out":     "Abmelden",
		"signed_out":   "Sie sind abgemeldet.",
		"fake_banner":  "Demo: Diese Seite läuft mit twiliosmstest, einem nachgebildeten Twilio. Keine SMS verlässt diesen Rechner; die Codes erscheinen unten im Entwickler-Posteingang.",
		"real_banner":  "Live: Codes werden als echte SMS über Twilio versendet.",
		"inbox":        "Entwickler-Posteingang",
		"inbox_empty":  "Noch keine Nachrichten.",
		"cross_origin": "Dieses Formular kam von einer anderen Website, daher haben wir es ignoriert.",
	},
	"fr": {
		"title":        "Connexion avec votre téléphone",
		"phone_label":  "Numéro de téléphone",
		"phone_hint":   "Avec l'indicatif du pays, par exemple +33 6 12 34 56 78.",
		"send":         "M'envoyer un code",
		"code_label":   "Code",
		"code_hint":    "Nous avons envoyé un code au %s.",
		"verify":       "Se connecter",
		"other_number": "Utiliser un autre numéro",
		"signed_in":    "Vous êtes connecté avec le %s.",
		"sign_out":     "Se déconnecter",
		"signed_out":   "Vous êtes déconnecté.",
		"fake_banner":  "Démo : cette page fonctionne avec twiliosmstest, un faux Twilio. Aucun SMS ne quitte cette machine ; les codes arrivent dans la boîte de réception développeur ci-dessous.",
		"real_banner":  "En direct : les codes partent en vrais SMS par Twilio.",
		"inbox":        "Boîte de réception développeur",
		"inbox_empty":  "Aucun message pour l'instant.",
		"cross_origin": "Ce formulaire venait d'un autre site, nous l'avons donc ignoré.",
	},
	"es": {
		"title":        "Inicia sesión con tu teléfono",
		"phone_label":  "Número de teléfono",
		"phone_hint":   "Con el prefijo del país, por ejemplo +34 612 345 678.",
		"send":         "Envíame un código",
		"code_label":   "Código",
		"code_hint":    "Te enviamos un código al %s.",
		"verify":       "Iniciar sesión",
		"other_number": "Usar otro número",
		"signed_in":    "Has iniciado sesión como %s.",
		"sign_out":     "Cerrar sesión",
		"signed_out":   "Has cerrado la sesión.",
		"fake_banner":  "Demo: esta página funciona con twiliosmstest, un Twilio simulado. Ningún SMS sale de esta máquina; los códigos llegan a la bandeja de entrada de desarrollo de abajo.",
		"real_banner":  "En vivo: los códigos se envían como SMS reales a través de Twilio.",
		"inbox":        "Bandeja de entrada de desarrollo",
		"inbox_empty":  "Todavía no hay mensajes.",
		"cross_origin": "Este formulario venía de otro sitio, así que lo ignoramos.",
	},
	"ja": {
		"title":        "電話番号でサインイン",
		"phone_label":  "電話番号",
		"phone_hint":   "国番号から入力してください（例: +81 90 1234 5678）。",
		"send":         "コードを SMS で受け取る",
		"code_label":   "確認コード",
		"code_hint":    "%s に確認コードを送信しました。",
		"verify":       "サインイン",
		"other_number": "別の番号を使う",
		"signed_in":    "%s でサインインしています。",
		"sign_out":     "サインアウト",
		"signed_out":   "サインアウトしました。",
		"fake_banner":  "デモ: このページは偽の Twilio である twiliosmstest で動いています。SMS はこのマシンの外に送信されず、コードは下の開発者用受信箱に届きます。",
		"real_banner":  "本番: コードは Twilio から実際の SMS として送信されます。",
		"inbox":        "開発者用受信箱",
		"inbox_empty":  "まだメッセージはありません。",
		"cross_origin": "このフォームは別のサイトから送信されたため、無視しました。",
	},
}
