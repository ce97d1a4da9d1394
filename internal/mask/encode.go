package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// variants are the forms of a secret that GitHub's runner also masks
// (its ValueEncoders): the value itself, base64 at the three byte
// alignments (standard and URL-safe alphabets, padding dropped), the JSON
// string escape, the URI data escape, the expression string escape (' as
// ”), the XML escape and the value with surrounding double quotes trimmed.
func variants(secret string) []string {
	out := []string{secret}
	out = append(out, base64Variants(secret)...)
	out = append(out, jsonEscapes(secret)...)
	out = append(out, uriDataEscape(secret))
	out = append(out, strings.ReplaceAll(secret, "'", "''"))
	out = append(out, xmlEscape(secret))
	if len(secret) > 8 && strings.HasPrefix(secret, `"`) && strings.HasSuffix(secret, `"`) {
		out = append(out, secret[1:len(secret)-1])
	}
	return out
}

// base64Variants encodes the secret as it appears inside a longer base64
// stream: preceded by 3n, 3n+2 or 3n+1 bytes (offsets 0, 1 and 2 of the
// secret start a 3-byte group). Padding depends on what follows, so it is
// dropped; so is a last digit that mixes the secret's bits with the next
// byte's (kept too, in the form GitHub registers, for the secret alone).
func base64Variants(secret string) []string {
	raw := []byte(secret)
	var out []string
	for off := 0; off <= 2 && off < len(raw); off++ {
		b := raw[off:]
		std := strings.TrimRight(base64.StdEncoding.EncodeToString(b), "=")
		forms := []string{std}
		// Whole digits only: 8*len bits fill len*8/6 complete digits.
		if whole := len(b) * 8 / 6; whole < len(std) && whole >= 6 {
			forms = append(forms, std[:whole])
		}
		for _, f := range forms {
			out = append(out, f, strings.NewReplacer("+", "-", "/", "_").Replace(f))
		}
	}
	return out
}

// jsonEscapes are the secret inside a JSON string as the common encoders
// write it: without HTML escaping (most languages) and with it (Go's
// encoding/json default, which also escapes U+2028 and U+2029).
func jsonEscapes(secret string) []string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(secret)
	plain := strings.TrimSuffix(buf.String(), "\n")
	out := []string{plain[1 : len(plain)-1]}
	if b, err := json.Marshal(secret); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	return out
}

// uriDataEscape percent-encodes every byte but the unreserved characters
// of RFC 3986, with upper-case hex, as .NET's Uri.EscapeDataString does.
func uriDataEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// xmlEscape escapes the five XML special characters, as .NET's
// SecurityElement.Escape does.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}
