package main

import "fmt"

var version, commit = "dev", "none"

func main() { fmt.Println("hello", version, commit) }
