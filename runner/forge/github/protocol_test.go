package github

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // the protocol's OAEP hash
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/workflow"
)

func TestAPIURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/octo/repo":         "https://api.github.com",
		"https://acme.ghe.com/org":             "https://api.acme.ghe.com",
		"https://ghes.example.com/octo/repo":   "https://ghes.example.com/api/v3",
		"http://127.0.0.1:8080/octo/repo":      "http://127.0.0.1:8080/api/v3",
		"https://ghes.example.com:8443/octo/x": "https://ghes.example.com:8443/api/v3",
	} {
		got, err := apiURL(in)
		if err != nil || got != want {
			t.Errorf("apiURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := apiURL("github.com/octo"); err == nil || !strings.Contains(err.Error(), "is not a GitHub URL") {
		t.Errorf("a URL without a scheme: %v", err)
	}
}

func TestKeyParamsRoundTrip(t *testing.T) {
	k, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(toParams(k))
	var p rsaParams
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	back, err := p.key()
	if err != nil || !back.Equal(k) {
		t.Fatalf("round trip: %v", err)
	}
	p.D = nil
	if _, err := p.key(); err == nil {
		t.Error("an incomplete key was accepted")
	}
	p = toParams(k)
	p.Q = p.P
	if _, err := p.key(); err == nil {
		t.Error("a bad key was accepted")
	}
}

// encrypt is the service's side: the session key wrapped with the
// runner's public key, a message body AES-CBC encrypted after a BOM.
func encrypt(t *testing.T, k *rsa.PrivateKey, plain []byte) (*sessionKey, string, string) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &k.PublicKey, key, nil) //nolint:gosec // protocol
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	_, _ = rand.Read(iv)
	b, _ := aes.NewCipher(key)
	data := append([]byte("\uFEFF"), plain...)
	pad := 16 - len(data)%16
	data = append(data, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(data, data)
	return &sessionKey{Encrypted: true, Value: base64.StdEncoding.EncodeToString(wrapped)},
		base64.StdEncoding.EncodeToString(iv), base64.StdEncoding.EncodeToString(data)
}

func TestMessageDecryption(t *testing.T) {
	k, _ := newKey()
	for _, plain := range []string{`{"a":1}`, strings.Repeat("x", 13), strings.Repeat("y", 16)} {
		sk, iv, body := encrypt(t, k, []byte(plain))
		block, err := sessionCipher(k, sk, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decryptBody(block, iv, body)
		if err != nil || string(got) != plain {
			t.Errorf("decrypt %q: %q, %v", plain, got, err)
		}
	}
	// A key wrapped for another runner, and a body decrypted with the
	// wrong session key, are errors, not garbage.
	other, _ := newKey()
	sk, iv, body := encrypt(t, other, []byte("secret"))
	if _, err := sessionCipher(k, sk, false); err == nil {
		t.Error("a session key for another key pair was unwrapped")
	}
	sk2, _, _ := encrypt(t, k, nil)
	wrong, _ := sessionCipher(k, sk2, false)
	if got, err := decryptBody(wrong, iv, body); err == nil {
		t.Errorf("wrong key decrypted to %q", got)
	}
	if _, err := decryptBody(wrong, iv, "bm90IGJsb2Nrcw=="); err == nil {
		t.Error("a body of partial blocks was accepted")
	}
	// An unencrypted message (no IV) is the body itself.
	if got, _ := decryptBody(nil, "", `{"x":1}`); string(got) != `{"x":1}` {
		t.Errorf("plain body: %q", got)
	}
}

func TestClientAssertion(t *testing.T) {
	k, _ := newKey()
	for _, pss := range []bool{false, true} {
		jwt, err := clientAssertion(k, "client-1", "https://auth/token", pss, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(jwt, ".")
		if len(parts) != 3 {
			t.Fatalf("jwt %q", jwt)
		}
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		c, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		_ = json.Unmarshal(c, &claims)
		wantAlg := map[bool]string{false: "RS256", true: "PS256"}[pss]
		if !strings.Contains(string(h), wantAlg) || claims["iss"] != "client-1" || claims["sub"] != "client-1" ||
			claims["aud"] != "https://auth/token" || claims["exp"].(float64)-claims["nbf"].(float64) != 300 {
			t.Errorf("header %s claims %v", h, claims)
		}
	}
}

func TestTokensToYAML(t *testing.T) {
	raw := `{"type":2,"map":[
		{"Key":"run","Value":{"type":3,"expr":"format('echo {0}', matrix.os)"}},
		{"Key":"literal","Value":{"type":0,"lit":"keep ${{ this }} literal"}},
		{"Key":"n","Value":3},
		{"Key":"b","Value":{"type":5,"bool":true}},
		{"Key":"list","Value":{"type":1,"seq":["a",{"type":0,"lit":"b"}]}}]}`
	var tok templateToken
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		t.Fatal(err)
	}
	n, err := tok.yamlNode()
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := n.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out["run"] != "${{ format('echo {0}', matrix.os) }}" || out["literal"] != "${{ 'keep ${{ this }} literal' }}" ||
		out["n"] != 3 || out["b"] != true {
		t.Errorf("decoded %v", out)
	}
	if err := json.Unmarshal([]byte(`{"type":42}`), &tok); err == nil {
		t.Error("a token of unknown type was accepted")
	}
}

func TestContextData(t *testing.T) {
	raw := `{"t":2,"d":[{"k":"s","v":"bare"},{"k":"n","v":{"t":4,"n":2}},{"k":"a","v":{"t":1,"a":[{"t":3,"b":true},{"t":0,"s":"x"}]}},{"k":"cs","v":{"t":5,"d":[{"k":"K","v":"v"}]}}]}`
	var c contextData
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	m := c.v.(map[string]any)
	if m["s"] != "bare" || m["n"] != 2.0 || m["a"].([]any)[0] != true || m["a"].([]any)[1] != "x" || m["cs"].(map[string]any)["K"] != "v" {
		t.Errorf("decoded %v", m)
	}
	if err := json.Unmarshal([]byte(`{"t":9}`), &c); err == nil {
		t.Error("unknown context data type accepted")
	}
}

// A job message becomes a workflow the engine's parser takes, with the
// secrets, masks and runtime endpoints.
func TestToJob(t *testing.T) {
	raw := `{"jobId":"6f9619ff-8b86-d011-b42d-00c04fc964ff","jobName":"test","jobDisplayName":"Test ${{ x }}",
	 "plan":{"planId":"p","scopeIdentifier":"s","planType":"actions"},"timeline":{"id":"t"},
	 "jobContainer":{"type":2,"map":[{"Key":"image","Value":"gantry/debian:bookworm"}]},
	 "environmentVariables":[{"type":2,"map":[{"Key":"A","Value":"1"},{"Key":"B","Value":"1"}]},{"type":2,"map":[{"Key":"B","Value":"2"}]}],
	 "jobOutputs":{"type":2,"map":[{"Key":"o","Value":{"type":3,"expr":"steps.s.outputs.v"}}]},
	 "steps":[
	  {"id":"11111111-1111-4111-8111-111111111111","contextName":"s","condition":"success()","reference":{"type":"script"},
	   "inputs":{"type":2,"map":[{"Key":"script","Value":"echo hi"},{"Key":"shell","Value":"bash"}]}},
	  {"id":"22222222-2222-4222-8222-222222222222","contextName":"__actions_checkout","condition":"always()","reference":{"type":"repository","repositoryType":"GitHub","name":"actions/checkout","ref":"v4"},
	   "inputs":{"type":2,"map":[{"Key":"fetch-depth","Value":0}]}},
	  {"id":"33333333-3333-4333-8333-333333333333","reference":{"type":"containerRegistry","image":"alpine:3"}},
	  {"id":"44444444-4444-4444-8444-444444444444","reference":{"type":"repository","repositoryType":"self","path":"./.github/actions/x"}}],
	 "variables":{"system.github.token":{"value":"ghs_tok","isSecret":true},"MY":{"value":"v1","isSecret":true},"plain":{"value":"p"}},
	 "mask":[{"type":"regex","value":"extra-mask"}],
	 "resources":{"endpoints":[{"name":"SystemVssConnection","url":"https://pipelines/x/","authorization":{"parameters":{"AccessToken":"sys-tok"}},
	   "data":{"CacheServerUrl":"https://cache/","ResultsServiceUrl":"https://results/","GenerateIdTokenUrl":"https://oidc/"}}]},
	 "contextData":{"github":{"t":2,"d":[{"k":"event_name","v":"pull_request"},{"k":"workflow_ref","v":"o/r/.github/workflows/ci.yml@refs/heads/main"}]},
	   "matrix":{"t":2,"d":[{"k":"os","v":"linux"}]},"vars":{"t":2,"d":[{"k":"V","v":"x"}]},
	   "needs":{"t":2,"d":[{"k":"build","v":{"t":2,"d":[{"k":"result","v":"success"},{"k":"outputs","v":{"t":2,"d":[{"k":"o","v":"1"}]}}]}}]}}}`
	var m jobRequestMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	job, err := toJob(&m, []string{"self-hosted"})
	if err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Parse(job.WorkflowPath, job.Workflow)
	if err != nil {
		t.Fatalf("the built workflow does not parse: %v\n%s", err, job.Workflow)
	}
	w := string(job.Workflow)
	for _, want := range []string{"uses: actions/checkout@v4", "uses: docker://alpine:3", "uses: ./.github/actions/x", "fetch-depth: 0",
		"image: gantry/debian:bookworm", "B: \"2\"", "o: ${{ steps.s.outputs.v }}", "if: always()", "shell: bash", "id: s"} {
		if !strings.Contains(w, want) {
			t.Errorf("workflow lacks %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "__actions_checkout") {
		t.Error("a generated context name became a step id")
	}
	if wf.Job("test") == nil || job.JobID != "test" || job.WorkflowPath != ".github/workflows/ci.yml" || job.Event != "pull_request" {
		t.Errorf("job %q path %q event %q", job.JobID, job.WorkflowPath, job.Event)
	}
	if job.Secrets["GITHUB_TOKEN"] != "ghs_tok" || job.Secrets["MY"] != "v1" || len(job.Secrets) != 2 {
		t.Errorf("secrets %v", job.Secrets)
	}
	masks := strings.Join(job.Masks, ",")
	for _, want := range []string{"ghs_tok", "v1", "extra-mask", "sys-tok"} {
		if !strings.Contains(masks, want) {
			t.Errorf("masks %v lack %s", job.Masks, want)
		}
	}
	env := job.Env
	if env["ACTIONS_RUNTIME_URL"] != "https://pipelines/x/" || env["ACTIONS_RUNTIME_TOKEN"] != "sys-tok" || env["ACTIONS_CACHE_URL"] != "https://cache/" ||
		env["ACTIONS_RESULTS_URL"] != "https://results/" || env["ACTIONS_ID_TOKEN_REQUEST_URL"] != "https://oidc/" || env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] != "sys-tok" {
		t.Errorf("env %v", env)
	}
	if job.Matrix["os"] != "linux" || job.Vars["V"] != "x" || job.Needs["build"].Outputs["o"] != "1" || job.Needs["build"].Result != "success" {
		t.Errorf("matrix %v vars %v needs %v", job.Matrix, job.Vars, job.Needs)
	}
	// Unknown step kinds and script inputs are errors naming the step.
	m.Steps[0].Reference.Type = "task"
	if _, err := toJob(&m, nil); err == nil || !strings.Contains(err.Error(), "step 1") {
		t.Errorf("unknown step type: %v", err)
	}
}

func TestParseJITConfigErrors(t *testing.T) {
	enc := func(files map[string]string) string {
		data, _ := json.Marshal(files)
		return base64.StdEncoding.EncodeToString(data)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, tc := range map[string]struct{ in, want string }{
		"not base64":    {"%%%", "not base64"},
		"not json":      {base64.StdEncoding.EncodeToString([]byte("[1]")), "not a JSON object"},
		"no runner":     {enc(map[string]string{}), "no .runner file"},
		"bad creds":     {enc(map[string]string{".runner": b64(`{"AgentId":"5"}`), ".credentials": b64("{")}), ".credentials does not parse"},
		"wrong scheme":  {enc(map[string]string{".runner": b64(`{"AgentId":5,"ServerUrl":"u"}`), ".credentials": b64(`{"Scheme":"Basic"}`), ".credentials_rsaparams": b64(`{}`)}), "only OAuth"},
		"missing parts": {enc(map[string]string{".runner": b64(`{"AgentId":5}`), ".credentials": b64(`{"Scheme":"OAuth","Data":{}}`), ".credentials_rsaparams": b64(`{}`)}), "lack the agent id"},
	} {
		_, err := parseJITConfig(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
