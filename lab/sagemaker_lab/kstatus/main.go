// kstatus reads Kubernetes objects (a JSON list, or a List's items) on stdin and prints,
// for each, the verdict of sigs.k8s.io/cli-utils/pkg/kstatus: the library Flux's
// kustomize-controller and helm-controller use for `wait: true` and health checks.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var list struct {
		Items []map[string]interface{} `json:"items"`
	}
	// Kubernetes' decoder: whole numbers become int64, as unstructured objects expect.
	if err := utiljson.Unmarshal(input, &list); err != nil {
		fail(err)
	}
	verdicts := []verdict{}
	for _, item := range list.Items {
		object := &unstructured.Unstructured{Object: item}
		result, err := status.Compute(object)
		if err != nil {
			fail(fmt.Errorf("%s: %w", object.GetName(), err))
		}
		verdicts = append(verdicts, verdict{object.GetName(), result.Status.String(), result.Message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdicts); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kstatus:", err)
	os.Exit(1)
}
