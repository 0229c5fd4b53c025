// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), the library
// Flux and kpt judge resources with, computes for the object given as JSON on stdin.
// tests/e2e/test_gitops.py builds it and feeds it RecoveryPlans read from the API server.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	// Unstructured's own decoder keeps integers as int64, as the API machinery reads them.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		fail(err)
	}
	res, err := status.Compute(obj)
	if err != nil {
		fail(err)
	}
	out, err := json.Marshal(map[string]string{"status": string(res.Status), "message": res.Message})
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}
