package twiliosms

import (
	"maps"
	"slices"

	"golang.org/x/text/language"
)

// templateSet holds the parsed templates: the fallback set (no locale) by
// usage type, the localized ones by usage type and locale, and a language
// matcher per usage type, all built once, in New.
type templateSet struct {
	fallback  map[UsageType]*messageTemplate
	localized map[UsageType]map[string]*messageTemplate // by canonical locale
	matchers  map[UsageType]*localeMatcher              // for usage types without templates: Generic's
}

// localeMatcher matches a reader's languages against the locales of one
// usage type's templates and of the Generic templates.
type localeMatcher struct {
	matcher language.Matcher
	locales []string // canonical, in the matcher's order
}

// newTemplateSet parses the templates. Those without a locale are the
// fallback set; with a defaultLocale they are written in it, so they take
// its locale and, when other languages are there to choose from, are
// matched in it as well.
func newTemplateSet(templates []Template, defaultLocale string) *templateSet {
	s := &templateSet{fallback: map[UsageType]*messageTemplate{}, localized: map[UsageType]map[string]*messageTemplate{}}
	defaultTag, defaultLocale, _ := parseLocale(defaultLocale) // validated with the config; "" when unset
	for _, t := range templates {
		mt := parseTemplate(t)
		if mt.locale == "" {
			mt.locale, mt.tag = defaultLocale, defaultTag
			s.fallback[t.UsageType] = mt
			continue
		}
		s.addLocalized(mt)
	}
	if len(s.localized) == 0 {
		return s
	}
	if defaultLocale != "" {
		for _, mt := range s.fallback {
			s.addLocalized(mt)
		}
	}
	s.matchers = map[UsageType]*localeMatcher{}
	for u := range s.localized {
		s.matchers[u] = newLocaleMatcher(s.localized[u], s.localized[UsageTypeGeneric])
	}
	for u := range s.fallback {
		if s.matchers[u] == nil {
			s.matchers[u] = newLocaleMatcher(s.localized[UsageTypeGeneric])
		}
	}
	return s
}

func (s *templateSet) addLocalized(mt *messageTemplate) {
	if s.localized[mt.usageType] == nil {
		s.localized[mt.usageType] = map[string]*messageTemplate{}
	}
	s.localized[mt.usageType][mt.locale] = mt
}

// newLocaleMatcher matches over the locales of the given templates, in
// sorted order so that the same config always matches the same way.
func newLocaleMatcher(sets ...map[string]*messageTemplate) *localeMatcher {
	m := &localeMatcher{}
	tagOf := map[string]language.Tag{}
	for _, set := range sets {
		for locale, t := range set {
			tagOf[locale] = t.tag
		}
	}
	if len(tagOf) == 0 {
		return nil
	}
	m.locales = slices.Sorted(maps.Keys(tagOf))
	tags := make([]language.Tag, len(m.locales))
	for i, locale := range m.locales {
		tags[i] = tagOf[locale]
	}
	m.matcher = language.NewMatcher(tags)
	return m
}

// choose picks the template for usage type u and a reader who prefers
// languages (a tag or an Accept-Language list; "" for none): language
// before wording. First the reader's most preferred language that a
// template of u or a Generic template is written in; in it, u's template,
// else the Generic one. With no such language, u's template without a
// locale, else the Generic one without a locale.
func (s *templateSet) choose(u UsageType, languages string) (*messageTemplate, error) {
	if locale, ok := s.match(u, languages); ok {
		if t, ok := s.localized[u][locale]; ok {
			return t, nil
		}
		return s.localized[UsageTypeGeneric][locale], nil
	}
	if t, ok := s.fallback[u]; ok {
		return t, nil
	}
	if t, ok := s.fallback[UsageTypeGeneric]; ok {
		return t, nil
	}
	return nil, errorf(ErrTemplateNotFound, "no template for usage type %q and no Generic template", u)
}

// match finds the locale a reader of languages is served in, if any. A
// malformed languages is ignored, as if it were empty.
func (s *templateSet) match(u UsageType, languages string) (string, bool) {
	if languages == "" || s.matchers == nil {
		return "", false
	}
	m, ok := s.matchers[u]
	if !ok {
		m = s.matchers[UsageTypeGeneric]
	}
	if m == nil {
		return "", false
	}
	wants, _, err := language.ParseAcceptLanguage(languages)
	if err != nil || len(wants) == 0 {
		return "", false
	}
	_, i, confidence := m.matcher.Match(wants...)
	if confidence < language.High {
		return "", false
	}
	return m.locales[i], true
}

// readerLanguages is what the reader prefers: Message.Locale, else a
// "locale" string in the payload, as Logto passes it.
func readerLanguages(msg Message) string {
	if msg.Locale != "" {
		return msg.Locale
	}
	if s, ok := msg.Payload["locale"].(string); ok {
		return s
	}
	return ""
}

// parseLocale reads a template's locale: a well-formed BCP 47 tag that
// names a language. It returns the tag and its canonical form.
func parseLocale(s string) (language.Tag, string, bool) {
	tag, err := language.Parse(s)
	if err != nil {
		return language.Und, "", false
	}
	if base, _, _ := tag.Raw(); base.String() == "und" {
		return language.Und, "", false
	}
	return tag, tag.String(), true
}
