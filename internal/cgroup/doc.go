// Package cgroup finds the pids and memory cgroup hierarchies of the host
// (cgroup v1, v2 or hybrid), derives container labels from cgroup paths,
// parses controller files without allocating, and walks a hierarchy cheaply
// enough to be done on every scrape of hosts with thousands of cgroups.
//
// Nothing here calls a container runtime or any API: discovery reads
// mountinfo and the v2 root's cgroup.controllers, labels come from the path
// alone, and everything else reads the cgroup filesystem.
package cgroup
