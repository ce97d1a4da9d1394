package github

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The JSON contracts of the GitHub Actions service, named and shaped as
// actions/runner's SDK serializes them (VSS JSON: PascalCase members are
// matched case-insensitively by encoding/json, the run service and the
// broker use camelCase or snake_case names as written in the tags).

// authResult is the answer of POST {api}/actions/runner-registration.
type authResult struct {
	TenantURL   string `json:"url"`
	TokenSchema string `json:"token_schema"`
	Token       string `json:"token"`
	// use_v2_flow is, in actions/runner's GitHubAuthResult, the switch to
	// the runner-admin registration (and the broker).
	UseRunnerAdminFlow bool `json:"use_v2_flow"`
}

type serviceDefinition struct {
	ServiceType  string
	Identifier   string
	DisplayName  string
	RelativePath string
}

type connectionData struct {
	LocationServiceData struct {
		ServiceDefinitions []serviceDefinition
	}
}

type agentPool struct {
	ID       int64
	Name     string
	IsHosted bool
}

type agentLabel struct {
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type publicKey struct {
	Exponent string // base64 big-endian
	Modulus  string
}

type agentAuthorization struct {
	AuthorizationURL string `json:",omitempty"`
	ClientID         string `json:",omitempty"`
	PublicKey        publicKey
}

// taskAgent is the runner as the pool knows it. Properties holds typed
// values ({"$type":..., "$value":...}) or plain JSON values.
type taskAgent struct {
	ID             int64
	Name           string
	Version        string
	OSDescription  string
	Labels         []agentLabel
	MaxParallelism int
	Ephemeral      bool `json:",omitempty"`
	DisableUpdate  bool `json:",omitempty"`
	Authorization  agentAuthorization
	Properties     map[string]json.RawMessage `json:",omitempty"`
}

// property reads a property as a string, unwrapping {"$value": ...}.
func (a *taskAgent) property(name string) string {
	for k, raw := range a.Properties {
		if !strings.EqualFold(k, name) {
			continue
		}
		var typed struct {
			Value json.RawMessage `json:"$value"`
		}
		if json.Unmarshal(raw, &typed) == nil && typed.Value != nil {
			raw = typed.Value
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return strings.TrimSpace(string(raw))
	}
	return ""
}

type sessionKey struct {
	Encrypted bool
	Value     string // base64
}

type brokerMigration struct {
	BrokerBaseURL string `json:"brokerBaseUrl"`
}

type taskAgentSession struct {
	SessionID              string `json:",omitempty"`
	OwnerName              string
	Agent                  taskAgent
	UseFipsEncryption      bool
	EncryptionKey          *sessionKey      `json:",omitempty"`
	BrokerMigrationMessage *brokerMigration `json:",omitempty"`
}

type taskAgentMessage struct {
	MessageID   int64
	MessageType string
	IV          string
	Body        string
}

// Message types (TaskAgentMessage.MessageType).
const (
	msgPipelineJob  = "PipelineAgentJobRequest"
	msgRunnerJob    = "RunnerJobRequest"
	msgCancel       = "JobCancellation"
	msgBrokerMove   = "BrokerMigration"
	msgTokenRefresh = "ForceTokenRefresh"
)

// runnerJobRequestRef is the body of a RunnerJobRequest message.
type runnerJobRequestRef struct {
	ID              string `json:"id"`
	RunnerRequestID string `json:"runner_request_id"`
	RunServiceURL   string `json:"run_service_url"`
	BillingOwnerID  string `json:"billing_owner_id,omitempty"`
}

type jobCancelMessage struct {
	JobID   string
	Timeout string
}

type acquireJobRequest struct {
	JobMessageID   string `json:"jobMessageId"`
	RunnerOS       string `json:"runnerOS,omitempty"`
	BillingOwnerID string `json:"billingOwnerId,omitempty"`
}

type renewJobRequest struct {
	PlanID string `json:"planId,omitempty"`
	JobID  string `json:"jobId,omitempty"`
}

type renewJobResponse struct {
	LockedUntil string `json:"lockedUntil"`
}

type variableValue struct {
	Value    string `json:"value"`
	IsSecret bool   `json:"isSecret,omitempty"`
}

// UnmarshalJSON takes both VSS PascalCase and camelCase, which
// encoding/json's case folding already does, and a bare string.
func (v *variableValue) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		v.Value = s
		return nil
	}
	type plain variableValue
	return json.Unmarshal(data, (*plain)(v))
}

type annotation struct {
	Level       string `json:"level"` // NOTICE, WARNING, FAILURE
	Message     string `json:"message"`
	RawDetails  string `json:"rawDetails,omitempty"`
	Path        string `json:"path,omitempty"`
	StartLine   int    `json:"startLine"`
	EndLine     int    `json:"endLine"`
	StartColumn int    `json:"startColumn"`
	EndColumn   int    `json:"endColumn"`
	StepNumber  int    `json:"stepNumber,omitempty"`
}

type stepResult struct {
	ExternalID  string       `json:"external_id,omitempty"`
	Number      int          `json:"number,omitempty"`
	Name        string       `json:"name,omitempty"`
	Status      string       `json:"status"`
	Conclusion  string       `json:"conclusion"`
	StartedAt   string       `json:"started_at,omitempty"`
	CompletedAt string       `json:"completed_at,omitempty"`
	Annotations []annotation `json:"annotations,omitempty"`
}

type completeJobRequest struct {
	PlanID         string                   `json:"planId,omitempty"`
	JobID          string                   `json:"jobId,omitempty"`
	Conclusion     string                   `json:"conclusion"`
	Outputs        map[string]variableValue `json:"outputs,omitempty"`
	StepResults    []stepResult             `json:"stepResults,omitempty"`
	Annotations    []annotation             `json:"annotations,omitempty"`
	BillingOwnerID string                   `json:"billingOwnerId,omitempty"`
}

// jobEvent is the legacy completion (PlanEvents, "JobCompleted").
type jobEvent struct {
	Name      string
	JobID     string
	RequestID int64
	Result    string
	Outputs   map[string]variableValue `json:",omitempty"`
}

type planReference struct {
	ScopeIdentifier string
	PlanID          string
	PlanType        string
	Version         int
}

type timelineReference struct {
	ID       string
	ChangeID int
}

type jobEndpoint struct {
	Name          string
	URL           string
	Data          map[string]string
	Authorization struct {
		Scheme     string
		Parameters map[string]string
	}
}

type stepReference struct {
	Type           string // script, repository, containerRegistry
	Name           string
	Ref            string
	RepositoryType string
	Path           string
	Image          string
}

type actionStep struct {
	ID               string
	Type             string
	Name             string
	DisplayName      string
	Reference        stepReference
	DisplayNameToken *templateToken
	ContextName      string
	Environment      *templateToken
	Inputs           *templateToken
	Condition        string
	ContinueOnError  *templateToken
	TimeoutInMinutes *templateToken
}

type maskHint struct {
	Type  string
	Value string
}

// jobRequestMessage is the AgentJobRequestMessage: everything a job needs.
type jobRequestMessage struct {
	MessageType          string
	Plan                 *planReference
	Timeline             *timelineReference
	JobID                string
	JobDisplayName       string
	JobName              string
	JobContainer         *templateToken
	JobServiceContainers *templateToken
	JobOutputs           *templateToken
	RequestID            int64
	LockedUntil          string
	Resources            struct{ Endpoints []jobEndpoint }
	ContextData          map[string]*contextData
	Variables            map[string]variableValue
	Mask                 []maskHint `json:"mask"`
	EnvironmentVariables []*templateToken
	Defaults             []*templateToken
	Steps                []actionStep
	FileTable            []string
	BillingOwnerID       string `json:"billingOwnerId,omitempty"`
}

func (m *jobRequestMessage) endpoint(name string) *jobEndpoint {
	for i := range m.Resources.Endpoints {
		if strings.EqualFold(m.Resources.Endpoints[i].Name, name) {
			return &m.Resources.Endpoints[i]
		}
	}
	return nil
}

type issue struct {
	Type    string // error, warning, notice
	Message string
	Data    map[string]string `json:",omitempty"`
}

type logReference struct {
	ID       int
	Location string `json:",omitempty"`
}

type timelineRecord struct {
	ID           string
	ParentID     string `json:",omitempty"`
	Type         string
	Name         string
	RefName      string `json:",omitempty"`
	Order        int
	State        string        // Pending, InProgress, Completed
	Result       string        `json:",omitempty"` // succeeded, failed, canceled, skipped
	StartTime    string        `json:",omitempty"`
	FinishTime   string        `json:",omitempty"`
	LastModified string        `json:",omitempty"`
	WorkerName   string        `json:",omitempty"`
	Log          *logReference `json:",omitempty"`
	ErrorCount   int
	WarningCount int
	Issues       []issue `json:",omitempty"`
}

type recordsWrapper struct {
	Count int               `json:"count"`
	Value []*timelineRecord `json:"value"`
}

type feedLines struct {
	Count     int      `json:"count"`
	Value     []string `json:"value"`
	StepID    string   `json:"stepId"`
	StartLine int64    `json:"startLine"`
}

type taskLog struct {
	ID            int    `json:"id,omitempty"`
	Path          string `json:"path"`
	LineCount     int    `json:"lineCount,omitempty"`
	CreatedOn     string `json:"createdOn,omitempty"`
	LastChangedOn string `json:"lastChangedOn,omitempty"`
}

// flexString reads a JSON string or number (the JIT .runner file writes
// ids either way).
type flexString string

func (f *flexString) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", data)
	}
	*f = flexString(n.String())
	return nil
}

func (f flexString) int64() int64 {
	n, _ := strconv.ParseInt(string(f), 10, 64)
	return n
}

// flexBool reads true, "true", "True".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.ToLower(string(data)), `"`)
	*b = flexBool(s == "true")
	return nil
}
