package app

import "os"

// Look-alikes that are not secrets.
var (
	awsKey      = os.Getenv("AWS_ACCESS_KEY_ID")
	placeholder = "ghp_xxxxxxxxxxxx"
	example     = "password: ${{ secrets.DB_PASSWORD }}"
	docs        = "set GITHUB_TOKEN to a token with repo scope"
)
