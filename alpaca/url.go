package alpaca

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// RedactURL returns raw fit for an error or a log line: everything between the scheme and the
// last '@' (the userinfo, user:password) becomes "***", whether or not raw parses. It works on the
// text, not on a parsed URL: a password may hold '/', '?' or '#', which a parser takes for the end
// of the userinfo, leaving the rest of the password in the path, query or fragment.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	if ok {
		return scheme + "://***@" + rest[at+1:]
	}
	return "***@" + rest[at+1:]
}

// ParseBaseURL checks a broker base URL (APCA_BROKER_URL) and returns it without a trailing
// slash: http or https, a host, no userinfo (the credentials go in the key settings, and a URL is
// printed in errors), no query or fragment. Its errors never quote a password.
func ParseBaseURL(raw string) (string, error) {
	raw = strings.TrimRight(raw, "/")
	shown := RedactURL(raw)
	if strings.Contains(raw, "@") {
		// Whatever the parser makes of it, an '@' means credentials (or part of them) in the URL.
		return "", fmt.Errorf("broker URL %q carries credentials: give them in APCA_API_KEY_ID and APCA_API_SECRET_KEY, never in the URL", shown)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// The *url.Error repeats the text; its cause alone says what is wrong.
		return "", fmt.Errorf("broker URL %q is not a valid URL: %v", shown, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("broker URL %q: want an http or https URL", shown)
	case u.Host == "":
		return "", fmt.Errorf("broker URL %q has no host", shown)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("broker URL %q: want no query or fragment", shown)
	}
	return raw, nil
}

// routes are the endpoints this client calls, as templates: an id never becomes part of a name
// (a metric label, a log key) that would grow with every journal.
var routes = []struct{ prefix, route string }{
	{"/v1/journals/batch", "/v1/journals/batch"},
	{"/v1/journals/reverse_batch", "/v1/journals/reverse_batch"},
	{"/v1/journals/", "/v1/journals/{id}"},
	{"/v1/journals", "/v1/journals"},
	{"/v1/accounts/", "/v1/accounts/{id}"},
	{"/v1/events/journals/status", "/v1/events/journals/status"},
	{"/v2/events/journals/status", "/v2/events/journals/status"},
}

// Route is the endpoint template of a request path ("/v1/journals/{id}" for
// "/v1/journals/1c7f…"), whatever path the base URL carries before the version; "other" for a
// path this client never calls.
func Route(path string) string {
	i := strings.Index(path, "/v1/")
	if j := strings.Index(path, "/v2/"); i < 0 || (j >= 0 && j < i) {
		i = j
	}
	if i < 0 {
		return "other"
	}
	path = path[i:]
	for _, r := range routes {
		if path == r.prefix || (strings.HasSuffix(r.prefix, "/") && strings.HasPrefix(path, r.prefix) && !strings.Contains(path[len(r.prefix):], "/")) {
			return r.route
		}
	}
	return "other"
}
