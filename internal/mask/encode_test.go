package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// Secrets with quotes, slashes, newlines, non-ASCII and the characters each
// encoding escapes.
var hostile = []string{
	`plain-token-1234`,
	`it's "quoted"`,
	`back\slash/and/slash`,
	"multi\nline\r\nsecret",
	`wörd-ünïcode-密码-🔑`,
	`<x a="1" b='2'>&amp;</x>`,
	`"surrounded by quotes"`,
	`100% +plus &amp= ?q#f`,
	"tab\there\x01ctl",
}

// mustMask asserts that text, which embeds the secret in some encoding,
// no longer holds core (the part of that encoding that only the secret
// determines).
func mustMask(t *testing.T, m *Masker, form, text, core string) {
	t.Helper()
	got := m.Replace(text)
	if strings.Contains(got, core) || !strings.Contains(got, "***") {
		t.Errorf("%s form not masked:\n in: %q\nout: %q\ncore %q", form, text, got, core)
	}
}

func TestEncodedFormsAreMasked(t *testing.T) {
	for _, secret := range hostile {
		m := New()
		m.Add(secret)
		mustMask(t, m, "plain", "x "+secret+" y", secret)

		// Base64 inside a longer stream, at every alignment and with what
		// follows changing the last digits.
		for _, prefix := range []string{"", "a", "ab", "abc", "user:", "Basic x:"} {
			for _, suffix := range []string{"", "\n", ":tail", "Z"} {
				stream := prefix + secret + suffix
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
					full := enc.EncodeToString([]byte(stream))
					// Digits from the first 3-byte group that starts inside the
					// secret to the last digit made only of secret bits.
					start := (len(prefix) + 2) / 3 * 4
					end := (len(prefix) + len(secret)) * 8 / 6
					if end-start < 2 {
						continue
					}
					mustMask(t, m, "base64 after "+prefix+" before "+suffix, "Authorization: "+full, full[start:end])
				}
			}
		}

		var js bytes.Buffer
		enc := json.NewEncoder(&js)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(map[string]string{"k": secret})
		jsonForm := strings.TrimSuffix(js.String(), "\n")
		mustMask(t, m, "json", jsonForm, jsonCore(secret, false))
		goJSON, _ := json.Marshal(map[string]string{"k": secret})
		mustMask(t, m, "json (Go, HTML-escaped)", string(goJSON), jsonCore(secret, true))

		uri := strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")
		mustMask(t, m, "uri", "https://h/?token="+uri+"&x=1", uri)

		// The five XML entities, as .NET's SecurityElement.Escape writes them.
		xml := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(secret)
		mustMask(t, m, "xml", "<v>"+xml+"</v>", xml)

		expr := strings.ReplaceAll(secret, "'", "''")
		mustMask(t, m, "expression", "format('{0}', '"+expr+"')", expr)
	}
}

func jsonCore(s string, html bool) string {
	b, _ := json.Marshal(s)
	out := string(b[1 : len(b)-1])
	if !html {
		out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(out)
	}
	return out
}

func TestXMLAndQuoteTrimmedForms(t *testing.T) {
	m := New()
	m.Add(`<x a="1" b='2'>&amp;</x>`)
	mustMask(t, m, "xml", "<v>&lt;x a=&quot;1&quot; b=&apos;2&apos;&gt;&amp;amp;&lt;/x&gt;</v>", "&lt;x a=&quot;1&quot;")

	q := New()
	q.Add(`"surrounded by quotes"`)
	mustMask(t, q, "quotes trimmed", "value: surrounded by quotes.", "surrounded by quotes")
	short := New()
	short.Add(`"short"`) // GitHub trims only values longer than 8
	if got := short.Replace("a short word"); got != "a short word" {
		t.Errorf("a short quoted secret masked its inner word: %q", got)
	}
}

// GitHub merges overlapping matches: masking one secret must not leave
// the end of another readable.
func TestOverlappingSecretsMaskedAsOne(t *testing.T) {
	m := New()
	m.Add("abcdef")
	m.Add("defghi")
	for in, want := range map[string]string{
		"x abcdefghi y":  "x *** y",
		"abcdef defghi":  "*** ***",
		"zzdefghiabcdef": "zz***",
		"aaaa":           "aaaa",
	} {
		if got := m.Replace(in); got != want {
			t.Errorf("Replace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterFlushKeepsSecretWhole(t *testing.T) {
	secret := "a-secret-of-some-length-é"
	m := New()
	m.Add(secret)
	for shift := -len(secret); shift <= 1; shift++ {
		var out bytes.Buffer
		w := m.Writer(&out)
		stream := strings.Repeat("x", maxHold+shift) + secret + strings.Repeat("y", 100)
		for i := 0; i < len(stream); i += 777 {
			_, _ = w.Write([]byte(stream[i:min(len(stream), i+777)]))
		}
		_ = w.Close()
		if want := strings.Repeat("x", maxHold+shift) + "***" + strings.Repeat("y", 100); out.String() != want {
			t.Fatalf("shift %d: secret split by a flush", shift)
		}
	}
}

func FuzzMaskNeverLeaks(f *testing.F) {
	f.Add("secret", "before ", " after", 3)
	f.Add("it's \"q\"/ö\n2", "a", "b", 1)
	f.Fuzz(func(t *testing.T, secret, before, after string, chunk int) {
		// A secret holding '*' can be rebuilt by the mask itself beside its
		// neighbours ("0*" in "00*0" gives "0***0"): not a leak.
		if strings.TrimSpace(secret) == "" || strings.Contains(secret, "*") || len(secret) > 200 || strings.ContainsAny(secret, "\r\n") {
			return
		}
		m := New()
		m.Add(secret)
		got := m.Replace(before + secret + after)
		if strings.Contains(got, secret) {
			t.Fatalf("secret survives: %q", got)
		}
		// Streamed in chunks through a writer, the same holds.
		if chunk <= 0 || chunk > 64 {
			chunk = 1
		}
		var out bytes.Buffer
		w := m.Writer(&out)
		s := before + secret + after
		for i := 0; i < len(s); i += chunk {
			_, _ = w.Write([]byte(s[i:min(len(s), i+chunk)]))
		}
		_ = w.Close()
		if strings.Contains(out.String(), secret) {
			t.Fatalf("secret survives the writer: %q", out.String())
		}
	})
}
