// Command hello is a tiny program for the build tests: faster to compile
// than the example app.
package main

import "fmt"

func main() { fmt.Println("hello from imagebuild") }
