package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
)

func health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", health)
	return mux
}

func main() {
	check := flag.Bool("check", false, "serve one /health request in-process and exit")
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()
	if *check {
		rec := httptest.NewRecorder()
		newMux().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
		if rec.Code != http.StatusOK {
			fmt.Fprintln(os.Stderr, "health:", rec.Code)
			os.Exit(1)
		}
		fmt.Print(rec.Body.String())
		return
	}
	log.Fatal(http.ListenAndServe(*addr, newMux()))
}
