package service

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// accepted lists the fields easlocal reads but does not reproduce: when
// one holds a value other than EAS's default, validate warns once, saying
// what EAS does with it and what happens locally instead. The fields it
// reproduces (or that have no effect on how EAS runs the service) are
// not here; doc.go lists both.
var accepted = []struct{ path, msg string }{
	{"warm_up_data_path", "EAS replays these warm-up requests to every new instance before it takes traffic; easlocal does not replay them: an instance takes traffic as soon as its readiness probe passes"},
	{"unit", "EAS runs each instance on unit.size machines (distributed inference, RANK_ID); easlocal runs each instance as one pod on this machine"},
	{"sinker", "EAS stores every request and response in MaxCompute or SLS; easlocal stores nothing (easlocal logs shows the containers' output)"},
	{"confidential", "EAS decrypts the model and data through the trustee before start; easlocal does not: the containers see the storage as it is"},
	{"aimaster", "EAS watches distributed instances for faults and restarts them as a group; easlocal restarts each instance on its own"},
	{"autoscaler", "EAS scales the number of instances on metrics between min and max; easlocal runs metadata.instance instances (change it with easlocal scale N)"},
	{"cronscaler", "EAS scales on a schedule; easlocal runs metadata.instance instances (change it with easlocal scale N)"},
	{"features", "EAS feature switches (extra ephemeral storage, GPU driver version, ...) do not apply locally"},
	{"runtime.base_image", "not used locally: easlocal runs containers[].image as it is"},
	{"runtime.core_pattern", "not used locally: core dumps follow this machine's kernel.core_pattern"},
	{"networking.gateway", "EAS serves the service through this dedicated gateway; locally easlocal's own gateway serves it on --listen"},
	{"networking.nlb", "EAS attaches a network load balancer; locally only easlocal's gateway on --listen reaches the instances"},
	{"networking.disable_internet_endpoint", "EAS hides the public endpoint; easlocal's gateway listens on --listen only"},
	{"networking.traffic_state", "not used locally: easlocal's gateway routes to every ready instance"},
	{"networking.path", "not used locally: easlocal's gateway serves /api/predict/<name>/"},
	{"networking.enable_https", "EAS serves HTTPS; easlocal's gateway serves plain HTTP"},
	{"networking.enable_http2", "EAS serves HTTP/2; easlocal's gateway serves HTTP/1.1"},
	{"networking.nacos", "EAS registers the service in Nacos; easlocal registers nothing"},
	{"cloud.networking", "EAS attaches the instances to this VPC; locally they sit on easlocal's bridge and reach what this machine reaches"},
	{"cloud.logging", "EAS ships these log files to SLS; easlocal keeps only the containers' output (easlocal logs)"},
	{"cloud.computing.disable_spot_protection_period", "spot instances do not exist locally; nothing is reclaimed"},
	{"metadata.gpu_core_percentage", "ignored: easlocal runs containers without GPUs"},
	{"metadata.qos", "EAS schedules the instances with this QoS class; locally metadata.cpu is always a cap (CFS quota) and metadata.memory a hard limit"},
	{"metadata.resource", "EAS runs the service in this dedicated resource group; locally it runs on this machine"},
	{"metadata.resource_burstable", "EAS may place instances in the elastic pool; locally every instance runs on this machine"},
	{"metadata.resource_rebalancing", "EAS moves instances to higher-priority resources; locally nothing moves"},
	{"metadata.cuda", "EAS mounts this CUDA version at /usr/local/cuda; easlocal mounts nothing there and passes no GPU"},
	{"metadata.rdma", "EAS enables RDMA networking; locally the instances have plain virtual Ethernet"},
	{"metadata.enable_webservice", "EAS serves the service as a web application at its own address; easlocal's gateway serves it at /api/predict/<name>/ like any other"},
	{"metadata.group", "EAS also serves the group's endpoint /api/predict/<group> and splits traffic between its services; easlocal serves only /api/predict/<name>"},
	{"metadata.role", "not used locally (a service group role of older SDKs)"},
	{"metadata.traffic_state", "not used locally: easlocal's gateway routes to every ready instance"},
	{"metadata.release", "not used locally (a release flag of older SDKs)"},
	{"metadata.disk", "EAS gives each instance a system disk of this size; locally the containers write to this machine's disk without a quota"},
	{"metadata.workload_type", "EAS runs the service as this kind of workload (elasticjob: a job that completes); easlocal runs it as a service whose instances are restarted"},
	{"metadata.quota_id", "EAS runs the service in this quota; locally it runs on this machine"},
	{"metadata.disable_sidecar", "EAS then runs no engine sidecar in the instance; easlocal's per-instance sidecar is part of its gateway and stays"},
	{"metadata.scheduling", "EAS spreads the instances across hosts or zones; locally they all run on this machine"},
	{"metadata.eas.handlers", "not used locally"},
	{"metadata.eas.scheduler", "EAS places instances by this policy; locally they all run on this machine"},
	{"metadata.rpc.io_threads", "not reproduced locally: the gateway has no I/O-thread setting (it is for processor services); it applies only on EAS"},
	{"metadata.rpc.batching", "EAS batches requests for processor services; easlocal's gateway sends each request on its own"},
	{"metadata.rpc.max_batch_size", "EAS batches requests for processor services; easlocal's gateway sends each request on its own"},
	{"metadata.rpc.max_batch_timeout", "EAS batches requests for processor services; easlocal's gateway sends each request on its own"},
	{"metadata.rpc.proxy_path", "the PAI SDK sets it for asynchronous services; easlocal's gateway forwards every request to the same path on the instance and does not read it"},
	{"metadata.rpc.health_check_path", "not used locally: easlocal checks the instances with containers[].health_check"},
	{"metadata.rpc.health_check_port", "not used locally: easlocal checks the instances with containers[].health_check"},
	{"metadata.rpc.retries", "not used locally: easlocal's gateway retries a request once on another instance when the connection fails (--no-retry turns it off)"},
	{"processor_type", "ignored: processors are for EAS's built-in model serving; a custom-image service runs its containers instead"},
	{"processor_path", "ignored: processors are for EAS's built-in model serving; a custom-image service runs its containers instead"},
	{"processor_entry", "ignored: processors are for EAS's built-in model serving; a custom-image service runs its containers instead"},
	{"processor_mainclass", "ignored: processors are for EAS's built-in model serving; a custom-image service runs its containers instead"},
	{"model_entry", "ignored: it feeds a processor, which custom-image services do not use"},
	{"model_config", "ignored: it feeds a processor, which custom-image services do not use"},
	{"oss_endpoint", "ignored: easlocal does not reach OSS; bind local directories with easlocal up --mount"},
	{"role_arn", "ignored: easlocal does not reach Alibaba Cloud services, so it assumes no RAM role"},
}

// warnAccepted warns once for each accepted field that holds a value.
func (v *validator) warnAccepted(s *Service) {
	root := reflect.ValueOf(s).Elem()
	for _, a := range accepted {
		if !v.seen[a.path] {
			continue
		}
		if f, ok := fieldByPath(root, a.path); ok && isDefault(f) {
			continue // EAS's default: nothing differs
		}
		v.diags.warnf(a.path, "%s", a.msg)
	}
}

// isDefault reports a zero value, also inside an any (false, "", 0).
func isDefault(v reflect.Value) bool {
	if v.Kind() == reflect.Interface && !v.IsNil() {
		switch x := v.Interface().(type) {
		case bool:
			return !x
		case string:
			return x == ""
		case json.Number:
			f, err := x.Float64()
			return err == nil && f == 0
		}
		return false
	}
	return v.IsZero()
}

// fieldByPath finds the value of a dotted json path in the model.
func fieldByPath(v reflect.Value, p string) (reflect.Value, bool) {
	for key := range strings.SplitSeq(p, ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		i, ok := fieldsOf(v.Type()).index[key]
		if !ok {
			return reflect.Value{}, false
		}
		v = v.Field(i)
	}
	return v, true
}

// serviceTypes are the documented metadata.type values and what differs
// locally; Standard (the default) runs as on EAS.
var serviceTypes = map[string]string{
	"Async":             "on EAS a queue sits in front of the instances: a POST is queued and answered at once with a request id, and the result is fetched from the sink queue; easlocal has no queue and serves requests synchronously: each POST goes straight to an instance and waits for its answer",
	"Queue":             "on EAS this is the queue service of an asynchronous service; easlocal runs it as an ordinary synchronous service",
	"LLMGatewayService": "on EAS this is the LLM intelligent router in front of the services of its group; easlocal runs its containers as an ordinary service and routes round-robin",
	"SDCluster":         "on EAS this is a Stable Diffusion cluster service; easlocal runs its containers as an ordinary synchronous service",
}

func (v *validator) serviceType(t string) {
	switch msg, known := serviceTypes[t]; {
	case t == "" || t == "Standard":
	case known:
		v.diags.warnf("metadata.type", "%s is not reproduced: %s", t, msg)
	default:
		v.diags.warnf("metadata.type", "%q is not a service type easlocal knows (Standard, Async, Queue, LLMGatewayService, SDCluster); it runs the service as a Standard one", t)
	}
}

// cloudSizing fills cpu and memory from the instance type:
// cloud.computing.instance_type, or else the first candidate of
// cloud.computing.instances[] (EAS tries them in order).
func (v *validator) cloudSizing(m *Metadata, cloud *Cloud) {
	if cloud == nil {
		return
	}
	c := &cloud.Computing
	for i, in := range c.Instances {
		ip := indexPath("cloud.computing.instances", i)
		if v.seen[ip] && (!v.seen[ip+".type"] || in.Type == "") {
			v.diags.errorf(ip+".type", "missing; give the instance type, e.g. \"ecs.c6.large\"")
		}
		v.intOrPercent(ip+".capacity", in.Capacity)
	}
	it, p := c.InstanceType, "cloud.computing.instance_type"
	if it == "" && len(c.Instances) > 0 {
		it, p = c.Instances[0].Type, "cloud.computing.instances[0].type"
	}
	if it != "" && (len(c.Instances) > 1 || (len(c.Instances) == 1 && c.Instances[0].SpotPriceLimit != nil)) {
		v.diags.warnf("cloud.computing.instances", "EAS tries these instance types in order (spot instances where spot_price_limit is set) and falls back when one is sold out; locally every instance is sized like %s", describeType(it, c.InstanceType != ""))
	}
	if it == "" || (m.CPU != 0 && m.Memory != 0) {
		return
	}
	if cpu, mem, ok := InstanceTypeResources(it); ok {
		if m.CPU == 0 {
			m.CPU = cpu
		}
		if m.Memory == 0 {
			m.Memory = mem
		}
		return
	}
	v.diags.warnf(p, "easlocal cannot tell the cores and memory of %q (it reads names with a cNNmMM part, like ml.gu7i.c16m60.1-gu30); set metadata.cpu and metadata.memory (MB) to limit the containers locally, otherwise they run without a limit", it)
}

func describeType(it string, fromInstanceType bool) string {
	if fromInstanceType {
		return fmt.Sprintf("cloud.computing.instance_type (%s)", it)
	}
	return fmt.Sprintf("the first one (%s)", it)
}
