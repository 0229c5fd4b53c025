// Command readers prints how GitOps tools judge the object given as JSON on stdin, with the very
// libraries they use, so tests/e2e/test_gitops.py can check RecoveryPlans read from the API server:
//
//	readers kstatus               kstatus (sigs.k8s.io/cli-utils), as Flux's default health checks and kpt
//	readers flux CURRENT FAILED   Flux's evaluator for a Kustomization's spec.healthCheckExprs
//
// It prints {"status": ..., "error": ...}; status "Error" means the reader could not decide
// (Flux then keeps retrying until its timeout).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/pkg/apis/kustomize"
	fluxcel "github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: readers kstatus | readers flux CURRENT FAILED  (object as JSON on stdin)"))
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	// Unstructured's own decoder keeps integers as int64, as the API machinery reads them.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		fail(err)
	}
	var verdict string
	switch {
	case os.Args[1] == "kstatus" && len(os.Args) == 2:
		res, err := status.Compute(obj)
		if err != nil {
			report("Error", err)
		}
		verdict = string(res.Status)
	case os.Args[1] == "flux" && len(os.Args) == 4:
		evaluator, err := fluxcel.NewStatusEvaluator(&kustomize.HealthCheckExpressions{
			Current: os.Args[2], Failed: os.Args[3],
		})
		if err != nil {
			fail(err)
		}
		res, err := evaluator.Evaluate(context.Background(), obj)
		if err != nil {
			report("Error", err)
		}
		verdict = string(res.Status)
	default:
		fail(fmt.Errorf("unknown arguments %q", os.Args[1:]))
	}
	report(verdict, nil)
}

func report(verdict string, err error) {
	out := map[string]string{"status": verdict}
	if err != nil {
		out["error"] = err.Error()
	}
	text, _ := json.Marshal(out)
	fmt.Println(string(text))
	os.Exit(0)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}
