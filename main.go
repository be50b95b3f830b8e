// Command fluxgate is a high-performance API gateway.
package main

func main() {}
