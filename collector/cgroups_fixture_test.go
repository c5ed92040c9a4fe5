package collector

import "testing"

// The expected series below were checked against the fixture trees, which
// testdata/README.md describes.

func TestPidsFixtures(t *testing.T) {
	for _, tc := range []struct{ profile, want string }{
		{"cgroup-k8s-v2", `
crashguard_cgroup_hierarchy_info{controller="pids",events="hierarchical",version="v2"} 1
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pode71f4d2a_9c8b_4d3e_a5f6_2b1c9e8d7a34.slice",container_id="",pod_uid="e71f4d2a-9c8b-4d3e-a5f6-2b1c9e8d7a34",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1b9c2e_8d4a_4b7f_a3e6_1c9d2f8e7a45.slice",container_id="",pod_uid="5f1b9c2e-8d4a-4b7f-a3e6-1c9d2f8e7a45",runtime="systemd"} 7
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_local_total{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 7
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pode71f4d2a_9c8b_4d3e_a5f6_2b1c9e8d7a34.slice",container_id="",pod_uid="e71f4d2a-9c8b-4d3e-a5f6-2b1c9e8d7a34",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice/kubepods-burstable.slice",container_id="",pod_uid="",runtime="systemd"} 7
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1b9c2e_8d4a_4b7f_a3e6_1c9d2f8e7a45.slice",container_id="",pod_uid="5f1b9c2e-8d4a-4b7f-a3e6-1c9d2f8e7a45",runtime="systemd"} 7
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 0
crashguard_cgroup_pids_limit{cgroup="/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pode71f4d2a_9c8b_4d3e_a5f6_2b1c9e8d7a34.slice",container_id="",pod_uid="e71f4d2a-9c8b-4d3e-a5f6-2b1c9e8d7a34",runtime="systemd"} 1024
crashguard_cgroup_pids_limit{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1b9c2e_8d4a_4b7f_a3e6_1c9d2f8e7a45.slice",container_id="",pod_uid="5f1b9c2e-8d4a-4b7f-a3e6-1c9d2f8e7a45",runtime="systemd"} 1024
crashguard_cgroup_pids_limit{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 1024
crashguard_cgroup_pids_limit{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 1024
crashguard_cgroup_pids_limit{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 1024
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 1061
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pode71f4d2a_9c8b_4d3e_a5f6_2b1c9e8d7a34.slice",container_id="",pod_uid="e71f4d2a-9c8b-4d3e-a5f6-2b1c9e8d7a34",runtime="systemd"} 10
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice/kubepods-burstable.slice",container_id="",pod_uid="",runtime="systemd"} 1036
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1b9c2e_8d4a_4b7f_a3e6_1c9d2f8e7a45.slice",container_id="",pod_uid="5f1b9c2e-8d4a-4b7f-a3e6-1c9d2f8e7a45",runtime="systemd"} 1024
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 4
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 8
crashguard_cgroup_pids_peak{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 15
crashguard_cgroup_pids{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 1061
crashguard_cgroup_pids{cgroup="/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pode71f4d2a_9c8b_4d3e_a5f6_2b1c9e8d7a34.slice",container_id="",pod_uid="e71f4d2a-9c8b-4d3e-a5f6-2b1c9e8d7a34",runtime="systemd"} 10
crashguard_cgroup_pids{cgroup="/kubepods.slice/kubepods-burstable.slice",container_id="",pod_uid="",runtime="systemd"} 1036
crashguard_cgroup_pids{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1b9c2e_8d4a_4b7f_a3e6_1c9d2f8e7a45.slice",container_id="",pod_uid="5f1b9c2e-8d4a-4b7f-a3e6-1c9d2f8e7a45",runtime="systemd"} 1024
crashguard_cgroup_pids{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 4
crashguard_cgroup_pids{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 8
crashguard_cgroup_pids{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 15
crashguard_cgroups_discovered{controller="pids"} 27
crashguard_cgroups_exported{controller="pids"} 7
crashguard_cgroups_left_out{controller="pids",reason="cap"} 0
crashguard_cgroups_left_out{controller="pids",reason="excluded"} 0
crashguard_cgroups_left_out{controller="pids",reason="unselected"} 20
crashguard_pids_in_use 1892
crashguard_pids_limit 4.194304e+06
crashguard_threads_limit 126789
`},
		{"cgroup-docker-v1", `
crashguard_cgroup_hierarchy_info{controller="pids",events="local",version="v1"} 1
crashguard_cgroup_pids_limit_hits_total{cgroup="/docker/9b2e6d0a4c8f1b5e9d3a7c0f4b8e2d6a1c5f9b3e7d0a4c8f2b6e1d5a9c3f7b0e",container_id="9b2e6d0a4c8f1b5e9d3a7c0f4b8e2d6a1c5f9b3e7d0a4c8f2b6e1d5a9c3f7b0e",pod_uid="",runtime="docker"} 12
crashguard_cgroup_pids_limit{cgroup="/docker/9b2e6d0a4c8f1b5e9d3a7c0f4b8e2d6a1c5f9b3e7d0a4c8f2b6e1d5a9c3f7b0e",container_id="9b2e6d0a4c8f1b5e9d3a7c0f4b8e2d6a1c5f9b3e7d0a4c8f2b6e1d5a9c3f7b0e",pod_uid="",runtime="docker"} 100
crashguard_cgroup_pids{cgroup="/docker/9b2e6d0a4c8f1b5e9d3a7c0f4b8e2d6a1c5f9b3e7d0a4c8f2b6e1d5a9c3f7b0e",container_id="9b2e6d0a4c8f1b5e9d3a7c0f4b8e2d6a1c5f9b3e7d0a4c8f2b6e1d5a9c3f7b0e",pod_uid="",runtime="docker"} 100
crashguard_cgroups_discovered{controller="pids"} 12
crashguard_cgroups_exported{controller="pids"} 1
crashguard_cgroups_left_out{controller="pids",reason="cap"} 0
crashguard_cgroups_left_out{controller="pids",reason="excluded"} 0
crashguard_cgroups_left_out{controller="pids",reason="unselected"} 11
crashguard_pids_in_use 611
crashguard_pids_limit 32768
crashguard_threads_limit 126816
`},
		{"cgroup-hybrid", `
crashguard_cgroup_hierarchy_info{controller="pids",events="local",version="v1"} 1
crashguard_cgroup_pids_limit_hits_total{cgroup="/system.slice/containerd.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/system.slice/docker-8e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5c9f3b7e0d.scope",container_id="8e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5c9f3b7e0d",pod_uid="",runtime="docker"} 3
crashguard_cgroup_pids_limit_hits_total{cgroup="/system.slice/docker.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/system.slice/ssh.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/user.slice/user-1000.slice",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit_hits_total{cgroup="/user.slice/user-1000.slice/user@1000.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_pids_limit{cgroup="/system.slice/containerd.service",container_id="",pod_uid="",runtime="systemd"} 19018
crashguard_cgroup_pids_limit{cgroup="/system.slice/docker-8e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5c9f3b7e0d.scope",container_id="8e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5c9f3b7e0d",pod_uid="",runtime="docker"} 200
crashguard_cgroup_pids_limit{cgroup="/system.slice/docker.service",container_id="",pod_uid="",runtime="systemd"} 19018
crashguard_cgroup_pids_limit{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 19018
crashguard_cgroup_pids_limit{cgroup="/system.slice/ssh.service",container_id="",pod_uid="",runtime="systemd"} 19018
crashguard_cgroup_pids_limit{cgroup="/user.slice/user-1000.slice",container_id="",pod_uid="",runtime="systemd"} 41840
crashguard_cgroup_pids_limit{cgroup="/user.slice/user-1000.slice/user@1000.service",container_id="",pod_uid="",runtime="systemd"} 19018
crashguard_cgroup_pids{cgroup="/system.slice/containerd.service",container_id="",pod_uid="",runtime="systemd"} 19
crashguard_cgroup_pids{cgroup="/system.slice/docker-8e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5c9f3b7e0d.scope",container_id="8e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5c9f3b7e0d",pod_uid="",runtime="docker"} 200
crashguard_cgroup_pids{cgroup="/system.slice/docker.service",container_id="",pod_uid="",runtime="systemd"} 27
crashguard_cgroup_pids{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 88
crashguard_cgroup_pids{cgroup="/system.slice/ssh.service",container_id="",pod_uid="",runtime="systemd"} 1
crashguard_cgroup_pids{cgroup="/user.slice/user-1000.slice",container_id="",pod_uid="",runtime="systemd"} 14
crashguard_cgroup_pids{cgroup="/user.slice/user-1000.slice/user@1000.service",container_id="",pod_uid="",runtime="systemd"} 2
crashguard_cgroups_discovered{controller="pids"} 14
crashguard_cgroups_exported{controller="pids"} 7
crashguard_cgroups_left_out{controller="pids",reason="cap"} 0
crashguard_cgroups_left_out{controller="pids",reason="excluded"} 0
crashguard_cgroups_left_out{controller="pids",reason="unselected"} 7
crashguard_pids_in_use 734
crashguard_pids_limit 4.194304e+06
crashguard_threads_limit 126789
`},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			cgCompare(t, cgSeries(t, build(t, "pids", profileConfig(t, tc.profile))), tc.want)
		})
	}
}

func TestMemcgFixtures(t *testing.T) {
	for _, tc := range []struct {
		profile string
		names   []string
		want    string
	}{
		{"cgroup-k8s-v2", []string{"crashguard_cgroup_hierarchy_info", "crashguard_cgroups_discovered", "crashguard_cgroups_exported", "crashguard_cgroups_left_out", "crashguard_memory_oom_kills_total", "crashguard_cgroup_memory_oom_kills_total", "crashguard_cgroup_memory_oom_kills_local_total", "crashguard_cgroup_memory_limit_bytes", "crashguard_cgroup_memory_high_bytes"}, `
crashguard_cgroup_hierarchy_info{controller="memory",events="hierarchical",version="v2"} 1
crashguard_cgroup_memory_high_bytes{cgroup="/system.slice/systemd-journald.service",container_id="",pod_uid="",runtime="systemd"} 1.073741824e+09
crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 1.5837536256e+10
crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 2.68435456e+08
crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice/cri-containerd-f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4.scope",container_id="f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="containerd"} 2.68435456e+08
crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice/cri-containerd-b5d9f3a7e1c4b8d2f6a0e3c7b1d5f9a2e6c0b4d8f1a5e9c3b7d0f4a8e2c6b1d5.scope",container_id="b5d9f3a7e1c4b8d2f6a0e3c7b1d5f9a2e6c0b4d8f1a5e9c3b7d0f4a8e2c6b1d5",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="containerd"} 1.34217728e+08
crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 1.073741824e+09
crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice/cri-containerd-2b9e4c7d1a8f3e6b5c0d9a2f7e4b1c8d3a6f9e2b5c8d1a4f7e0b3c6d9a2f5e81.scope",container_id="2b9e4c7d1a8f3e6b5c0d9a2f7e4b1c8d3a6f9e2b5c8d1a4f7e0b3c6d9a2f5e81",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="containerd"} 1.073741824e+09
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice/cri-containerd-f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4.scope",container_id="f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="containerd"} 3
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice/cri-containerd-b5d9f3a7e1c4b8d2f6a0e3c7b1d5f9a2e6c0b4d8f1a5e9c3b7d0f4a8e2c6b1d5.scope",container_id="b5d9f3a7e1c4b8d2f6a0e3c7b1d5f9a2e6c0b4d8f1a5e9c3b7d0f4a8e2c6b1d5",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="containerd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice/cri-containerd-2b9e4c7d1a8f3e6b5c0d9a2f7e4b1c8d3a6f9e2b5c8d1a4f7e0b3c6d9a2f5e81.scope",container_id="2b9e4c7d1a8f3e6b5c0d9a2f7e4b1c8d3a6f9e2b5c8d1a4f7e0b3c6d9a2f5e81",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="containerd"} 0
crashguard_cgroup_memory_oom_kills_local_total{cgroup="/system.slice/systemd-journald.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice",container_id="",pod_uid="",runtime="systemd"} 4
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-burstable.slice",container_id="",pod_uid="",runtime="systemd"} 4
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice",container_id="",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="systemd"} 3
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice/cri-containerd-f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4.scope",container_id="f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4",pod_uid="9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06",runtime="containerd"} 3
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice",container_id="",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="systemd"} 1
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc4b8a2e6_1f3d_4a9c_8e7b_5d2f1a6c3b90.slice/cri-containerd-b5d9f3a7e1c4b8d2f6a0e3c7b1d5f9a2e6c0b4d8f1a5e9c3b7d0f4a8e2c6b1d5.scope",container_id="b5d9f3a7e1c4b8d2f6a0e3c7b1d5f9a2e6c0b4d8f1a5e9c3b7d0f4a8e2c6b1d5",pod_uid="c4b8a2e6-1f3d-4a9c-8e7b-5d2f1a6c3b90",runtime="containerd"} 0
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice",container_id="",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="systemd"} 0
crashguard_cgroup_memory_oom_kills_total{cgroup="/kubepods.slice/kubepods-pod0d7e4b8e_5a3c_4f0e_9a51_3c2d8a9f6b10.slice/cri-containerd-2b9e4c7d1a8f3e6b5c0d9a2f7e4b1c8d3a6f9e2b5c8d1a4f7e0b3c6d9a2f5e81.scope",container_id="2b9e4c7d1a8f3e6b5c0d9a2f7e4b1c8d3a6f9e2b5c8d1a4f7e0b3c6d9a2f5e81",pod_uid="0d7e4b8e-5a3c-4f0e-9a51-3c2d8a9f6b10",runtime="containerd"} 0
crashguard_cgroup_memory_oom_kills_total{cgroup="/system.slice/systemd-journald.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroups_discovered{controller="memory"} 27
crashguard_cgroups_exported{controller="memory"} 9
crashguard_cgroups_left_out{controller="memory",reason="cap"} 0
crashguard_cgroups_left_out{controller="memory",reason="excluded"} 0
crashguard_cgroups_left_out{controller="memory",reason="unselected"} 18
crashguard_memory_oom_kills_total 4
`},
		{"cgroup-docker-v1", nil, `
crashguard_cgroup_hierarchy_info{controller="memory",events="local",version="v1"} 1
crashguard_cgroup_memory_anon_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 1.95661824e+08
crashguard_cgroup_memory_anon_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 3.22117632e+08
crashguard_cgroup_memory_dirty_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 491520
crashguard_cgroup_memory_dirty_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 180224
crashguard_cgroup_memory_failcnt_total{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 0
crashguard_cgroup_memory_failcnt_total{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 3475
crashguard_cgroup_memory_file_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 1.30445312e+08
crashguard_cgroup_memory_file_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 2.14749184e+08
crashguard_cgroup_memory_inactive_file_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 7.174144e+07
crashguard_cgroup_memory_inactive_file_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 1.1810816e+08
crashguard_cgroup_memory_limit_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 1.073741824e+09
crashguard_cgroup_memory_limit_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 5.36870912e+08
crashguard_cgroup_memory_oom_kills_total{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 0
crashguard_cgroup_memory_oom_kills_total{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 1
crashguard_cgroup_memory_under_oom{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 0
crashguard_cgroup_memory_under_oom{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 0
crashguard_cgroup_memory_usage_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 3.26107136e+08
crashguard_cgroup_memory_usage_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 5.36866816e+08
crashguard_cgroup_memory_writeback_bytes{cgroup="/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",container_id="61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5",pod_uid="",runtime="docker"} 12288
crashguard_cgroup_memory_writeback_bytes{cgroup="/docker/d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",container_id="d3a7c1f5b9e2d6a0c4f8b1e5d9a3c7f0b4e8d2a6c1f5b9e3d7a0c4f8b2e6d1a5",pod_uid="",runtime="docker"} 0
crashguard_cgroups_discovered{controller="memory"} 12
crashguard_cgroups_exported{controller="memory"} 2
crashguard_cgroups_left_out{controller="memory",reason="cap"} 0
crashguard_cgroups_left_out{controller="memory",reason="excluded"} 0
crashguard_cgroups_left_out{controller="memory",reason="unselected"} 10
crashguard_memory_oom_kills_total 1
`},
		{"cgroup-hybrid", nil, `
crashguard_cgroup_hierarchy_info{controller="memory",events="local",version="v1"} 1
crashguard_cgroup_memory_anon_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 1.6105472e+08
crashguard_cgroup_memory_anon_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 1.288462336e+09
crashguard_cgroup_memory_dirty_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 36864
crashguard_cgroup_memory_dirty_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_memory_failcnt_total{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 5120
crashguard_cgroup_memory_failcnt_total{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 8812
crashguard_cgroup_memory_file_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 1.07372544e+08
crashguard_cgroup_memory_file_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 8.58980352e+08
crashguard_cgroup_memory_inactive_file_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 5.9052032e+07
crashguard_cgroup_memory_inactive_file_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 4.72436736e+08
crashguard_cgroup_memory_limit_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 2.68435456e+08
crashguard_cgroup_memory_limit_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 2.147483648e+09
crashguard_cgroup_memory_oom_kills_total{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 2
crashguard_cgroup_memory_oom_kills_total{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 1
crashguard_cgroup_memory_under_oom{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 0
crashguard_cgroup_memory_under_oom{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroup_memory_usage_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 2.68427264e+08
crashguard_cgroup_memory_usage_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 2.147442688e+09
crashguard_cgroup_memory_writeback_bytes{cgroup="/system.slice/docker-5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d.scope",container_id="5a9d3c7f1b4e8a2d6c0f5b9e3a7d1c4f8b2e6a0d5c9f3b7e1a4d8c2f6b0e5a9d",pod_uid="",runtime="docker"} 0
crashguard_cgroup_memory_writeback_bytes{cgroup="/system.slice/java-app.service",container_id="",pod_uid="",runtime="systemd"} 0
crashguard_cgroups_discovered{controller="memory"} 14
crashguard_cgroups_exported{controller="memory"} 2
crashguard_cgroups_left_out{controller="memory",reason="cap"} 0
crashguard_cgroups_left_out{controller="memory",reason="excluded"} 0
crashguard_cgroups_left_out{controller="memory",reason="unselected"} 12
crashguard_memory_oom_kills_total 3
`},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			cgCompare(t, cgSeries(t, build(t, "memcg", profileConfig(t, tc.profile)), tc.names...), tc.want)
		})
	}
}
