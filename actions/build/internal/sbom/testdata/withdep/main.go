// Command withdep links one third-party module, for the SBOM tests.
package main

import (
	"fmt"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func main() { fmt.Println(cdx.BOMFileFormatJSON) }
