package flagaction

import (
	"sort"

	"github.com/gantry-ci/gantry/actions/flag/internal/flagd"
	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/flipt"
	"github.com/gantry-ci/gantry/actions/flag/internal/goff"
	"github.com/gantry-ci/gantry/actions/flag/internal/launchdarkly"
	"github.com/gantry-ci/gantry/actions/flag/internal/unleash"
)

// ServiceConfig is what the service providers are given.
type ServiceConfig struct {
	URL, Token, Project, Environment string
}

// documents are the file formats, by provider input value.
var documents = map[string]func() flags.Document{
	"flagd": func() flags.Document { return flagd.Document{} },
	"goff":  func() flags.Document { return goff.Document{} },
}

// services are the flag services, by provider input value.
var services = map[string]func(ServiceConfig) (flags.Provider, error){
	"unleash": func(c ServiceConfig) (flags.Provider, error) {
		return unleash.New(unleash.Config{BaseURL: c.URL, Token: c.Token, Project: c.Project, Environment: c.Environment})
	},
	"launchdarkly": func(c ServiceConfig) (flags.Provider, error) {
		return launchdarkly.New(launchdarkly.Config{BaseURL: c.URL, Token: c.Token, Project: c.Project, Environment: c.Environment})
	},
	// Flipt has namespaces where the others have projects, and no environments.
	"flipt": func(c ServiceConfig) (flags.Provider, error) {
		return flipt.New(flipt.Config{BaseURL: c.URL, Token: c.Token, Namespace: c.Project})
	},
}

// defaultURL are the services with a well-known API address.
var defaultURL = map[string]bool{"launchdarkly": true}

func providerNames() []string {
	var out []string
	for n := range documents {
		out = append(out, n)
	}
	for n := range services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
