package github

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // the session key is wrapped with RSA-OAEP-SHA1 unless the server asks for FIPS
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"time"
)

// rsaParams is a private key as .NET's RSAParameters serialize it (the
// .credentials_rsaparams file): big-endian unsigned integers, base64.
type rsaParams struct {
	D        []byte `json:"d"`
	DP       []byte `json:"dp"`
	DQ       []byte `json:"dq"`
	Exponent []byte `json:"exponent"`
	InverseQ []byte `json:"inverseQ"`
	Modulus  []byte `json:"modulus"`
	P        []byte `json:"p"`
	Q        []byte `json:"q"`
}

func newKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate the runner's RSA key: %w", err)
	}
	return k, nil
}

func toParams(k *rsa.PrivateKey) rsaParams {
	k.Precompute()
	return rsaParams{
		D: k.D.Bytes(), P: k.Primes[0].Bytes(), Q: k.Primes[1].Bytes(),
		DP: k.Precomputed.Dp.Bytes(), DQ: k.Precomputed.Dq.Bytes(), InverseQ: k.Precomputed.Qinv.Bytes(),
		Modulus: k.N.Bytes(), Exponent: big.NewInt(int64(k.E)).Bytes(),
	}
}

func (p rsaParams) key() (*rsa.PrivateKey, error) {
	if len(p.Modulus) == 0 || len(p.D) == 0 || len(p.P) == 0 || len(p.Q) == 0 {
		return nil, errors.New("the RSA key is incomplete (modulus, d, p and q are needed)")
	}
	n := func(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n(p.Modulus), E: int(n(p.Exponent).Int64())},
		D:         n(p.D),
		Primes:    []*big.Int{n(p.P), n(p.Q)},
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("the RSA key is not valid: %w", err)
	}
	k.Precompute()
	return k, nil
}

func publicKeyOf(k *rsa.PrivateKey) publicKey {
	return publicKey{
		Exponent: base64.StdEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		Modulus:  base64.StdEncoding.EncodeToString(k.N.Bytes()),
	}
}

// publicKeyXML is the key as RSA.ToXmlString(false) writes it, which the
// runner-admin register call takes.
func publicKeyXML(k *rsa.PrivateKey) string {
	pk := publicKeyOf(k)
	return "<RSAKeyValue><Modulus>" + pk.Modulus + "</Modulus><Exponent>" + pk.Exponent + "</Exponent></RSAKeyValue>"
}

// clientAssertion is the JWT the runner signs to prove it holds the key
// registered for clientID: iss = sub = client id, aud = the authorization
// URL, a fresh jti, valid for five minutes. PS256 when the server asks for
// FIPS cryptography or the runner is on the broker (v2) flow, else RS256.
func clientAssertion(k *rsa.PrivateKey, clientID, audience string, pss bool, now time.Time) (string, error) {
	alg := "RS256"
	if pss {
		alg = "PS256"
	}
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims, _ := json.Marshal(map[string]any{
		"sub": clientID, "iss": clientID, "aud": audience,
		"jti": fmt.Sprintf("%x-%x-%x-%x-%x", jti[0:4], jti[4:6], jti[6:8], jti[8:10], jti[10:]),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	var sig []byte
	var err error
	if pss {
		sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	}
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// sessionCipher unwraps the session's AES key: RSA-OAEP with SHA-1 (SHA-256
// when the session uses FIPS encryption) when Encrypted, else plain base64.
func sessionCipher(k *rsa.PrivateKey, key *sessionKey, fips bool) (cipher.Block, error) {
	if key == nil || key.Value == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(key.Value)
	if err != nil {
		return nil, fmt.Errorf("session key is not base64: %w", err)
	}
	if key.Encrypted {
		var h hash.Hash = sha1.New() //nolint:gosec // protocol-mandated OAEP hash
		if fips {
			h = sha256.New()
		}
		raw, err = rsa.DecryptOAEP(h, nil, k, raw, nil)
		if err != nil {
			return nil, fmt.Errorf("unwrap the session key (is this the key the runner was registered with?): %w", err)
		}
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return b, nil
}

// decryptBody decrypts a message body: base64 AES-CBC with the message's
// IV and PKCS#7 padding; the plaintext may start with a UTF-8 BOM.
func decryptBody(block cipher.Block, ivB64, bodyB64 string) ([]byte, error) {
	if ivB64 == "" {
		return []byte(bodyB64), nil
	}
	if block == nil {
		return nil, errors.New("the message is encrypted but the session has no key")
	}
	iv, err := base64.StdEncoding.DecodeString(ivB64)
	if err != nil || len(iv) != block.BlockSize() {
		return nil, fmt.Errorf("message IV is not %d base64 bytes", block.BlockSize())
	}
	data, err := base64.StdEncoding.DecodeString(bodyB64)
	if err != nil {
		return nil, fmt.Errorf("message body is not base64: %w", err)
	}
	if len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("message body of %d bytes is not whole AES blocks", len(data))
	}
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad == 0 || pad > block.BlockSize() || pad > len(data) {
		return nil, errors.New("message body has bad padding (wrong session key?)")
	}
	for _, b := range data[len(data)-pad:] {
		if int(b) != pad {
			return nil, errors.New("message body has bad padding (wrong session key?)")
		}
	}
	data = data[:len(data)-pad]
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		data = data[3:]
	}
	return data, nil
}
