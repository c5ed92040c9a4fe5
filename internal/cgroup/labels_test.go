package cgroup

import (
	"strings"
	"testing"
)

const (
	id1  = "4f1c9a2b7d3e8f6a0b5c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a"
	id2  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	uid  = "5c1b2f9e-3d4a-4b6c-8e7f-9a0b1c2d3e4f"
	uidU = "5c1b2f9e_3d4a_4b6c_8e7f_9a0b1c2d3e4f"
	// Static (mirror) pods use the config hash: 32 hex, no dashes.
	uidStatic = "9e4f2a1b3c5d7e9f0a1b2c3d4e5f6a7b"
	mesosID   = "b7f3c1d2-0e4a-4c6b-9d8e-7f6a5b4c3d2e"
)

func TestLabels(t *testing.T) {
	none := Label{Runtime: RuntimeNone}
	sd := Label{Runtime: RuntimeSystemd}
	tests := []struct {
		path string
		want Label
	}{
		// Nothing to say.
		{"", none},
		{"/", none},
		{"/fxtest", none},
		{"/foo/bar", none},

		// systemd units.
		{"/system.slice", sd},
		{"/system.slice/sshd.service", sd},
		{`/system.slice/foo\x2dbar.service`, sd},
		{"/system.slice/var-lib-docker.mount", sd},
		{"/init.scope", sd},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope", sd},
		{"/kubepods.slice", sd},
		{"/kubepods.slice/kubepods-burstable.slice", sd},
		// A unit-like name with an unknown prefix is not a container.
		{"/system.slice/foo-" + id1 + ".scope", sd},

		// Docker.
		{"/system.slice/docker-" + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimeDocker}},
		{"/system.slice/docker-" + id1 + ".scope/init.scope", Label{ContainerID: id1, Runtime: RuntimeDocker}},
		{"/system.slice/docker-" + id1 + ".scope/system.slice/cron.service", Label{ContainerID: id1, Runtime: RuntimeDocker}},
		{"/docker/" + id1, Label{ContainerID: id1, Runtime: RuntimeDocker}},
		{"/docker/" + id1 + "/", Label{ContainerID: id1, Runtime: RuntimeDocker}},
		{"/docker/" + id1 + "/sub", Label{ContainerID: id1, Runtime: RuntimeDocker}},
		// Docker in Docker: the innermost container.
		{"/docker/" + id1 + "/docker/" + id2, Label{ContainerID: id2, Runtime: RuntimeDocker}},
		// Rootless Docker under the user manager.
		{"/user.slice/user-1000.slice/user@1000.service/docker-" + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimeDocker}},
		// systemd escaping of the dash.
		{`/system.slice/docker\x2d` + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimeDocker}},

		// Kubernetes, systemd driver.
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice", Label{PodUID: uid, Runtime: RuntimeSystemd}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeContainerd, PodUID: uid}},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeContainerd, PodUID: uid}},
		{"/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeContainerd, PodUID: uid}},
		{"/kubepods.slice/kubepods-pod" + uidU + ".slice", Label{PodUID: uid, Runtime: RuntimeSystemd}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidStatic + ".slice/cri-containerd-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeContainerd, PodUID: uidStatic}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/docker-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeDocker, PodUID: uid}},
		// CRI-O, container and its conmon.
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeCRIO, PodUID: uid}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeCRIO, PodUID: uid}},
		// CRI-O's nested container cgroup below the scope.
		{"/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + id1 + ".scope/container",
			Label{ContainerID: id1, Runtime: RuntimeCRIO, PodUID: uid}},
		// A pod slice with an invalid uid is just a slice.
		{"/kubepods.slice/kubepods-podnotauid.slice", sd},
		// kind: a kubelet in a Docker container; the pod starts afresh.
		{"/system.slice/docker-" + id2 + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + id1 + ".scope",
			Label{ContainerID: id1, Runtime: RuntimeContainerd, PodUID: uid}},
		{"/system.slice/docker-" + id2 + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice",
			Label{PodUID: uid, Runtime: RuntimeSystemd}},

		// Kubernetes, cgroupfs driver: the runtime is not in the path.
		{"/kubepods/burstable/pod" + uid + "/" + id1, Label{ContainerID: id1, Runtime: RuntimeUnknown, PodUID: uid}},
		{"/kubepods/besteffort/pod" + uid + "/" + id1, Label{ContainerID: id1, Runtime: RuntimeUnknown, PodUID: uid}},
		{"/kubepods/pod" + uid + "/" + id1, Label{ContainerID: id1, Runtime: RuntimeUnknown, PodUID: uid}},
		{"/kubepods/pod" + uidStatic + "/" + id1, Label{ContainerID: id1, Runtime: RuntimeUnknown, PodUID: uidStatic}},
		{"/kubepods/burstable/pod" + uid, Label{PodUID: uid, Runtime: RuntimeNone}},
		{"/kubepods/burstable", none},
		{"/kubepods/burstable/pod" + uid + "/crio-" + id1, Label{ContainerID: id1, Runtime: RuntimeCRIO, PodUID: uid}},
		// "pod…" outside kubepods is not a pod.
		{"/foo/pod" + uid, none},

		// Podman.
		{"/machine.slice/libpod-" + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimePodman}},
		{"/machine.slice/libpod-" + id1 + ".scope/container", Label{ContainerID: id1, Runtime: RuntimePodman}},
		{"/machine.slice/libpod-conmon-" + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimePodman}},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimePodman}},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id1 + ".scope/container", Label{ContainerID: id1, Runtime: RuntimePodman}},
		{"/libpod_parent/libpod-" + id1, Label{ContainerID: id1, Runtime: RuntimePodman}},
		{"/libpod_parent/libpod-conmon-" + id1, Label{ContainerID: id1, Runtime: RuntimePodman}},

		// nerdctl (containerd without Kubernetes).
		{"/system.slice/nerdctl-" + id1 + ".scope", Label{ContainerID: id1, Runtime: RuntimeContainerd}},

		// LXC / Incus.
		{"/lxc.payload.web01", Label{ContainerID: "web01", Runtime: RuntimeLXC}},
		{"/lxc.payload.web01/system.slice/nginx.service", Label{ContainerID: "web01", Runtime: RuntimeLXC}},
		{"/lxc.monitor.web01", Label{ContainerID: "web01", Runtime: RuntimeLXC}},
		{"/lxc/web01", Label{ContainerID: "web01", Runtime: RuntimeLXC}},
		{"/lxc/web01/init.scope", Label{ContainerID: "web01", Runtime: RuntimeLXC}},
		{`/lxc.payload.my\x2dbox`, Label{ContainerID: "my-box", Runtime: RuntimeLXC}},
		{"/lxc.payload." + strings.Repeat("n", 100), Label{ContainerID: strings.Repeat("n", 64), Runtime: RuntimeLXC}},
		{"/lxc.payload.a\x01b", Label{ContainerID: "a_b", Runtime: RuntimeLXC}},
		{"/lxc.payload.", none},

		// Mesos.
		{"/mesos/" + mesosID, Label{ContainerID: mesosID, Runtime: RuntimeMesos}},
		{"/mesos/" + mesosID + "/mesos/" + uid, Label{ContainerID: uid, Runtime: RuntimeMesos}},
		{"/mesos/not-a-uuid", none},

		// Bare ids elsewhere: a container of an unknown runtime.
		{"/default/" + id1, Label{ContainerID: id1, Runtime: RuntimeUnknown}},
		// Ids are validated: uppercase, short or long hex is no id.
		{"/docker/" + strings.ToUpper(id1), none},
		{"/docker/" + id1[:63], none},
		{"/system.slice/docker-" + id1 + "0.scope", sd},
	}
	for _, tt := range tests {
		if got := Labels(tt.path); got != tt.want {
			t.Errorf("Labels(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func TestLabelsBounded(t *testing.T) {
	long := "/lxc.payload." + strings.Repeat("é", 100)
	l := Labels(long)
	if len(l.ContainerID) > maxNameLen || len(l.ContainerID) < maxNameLen-1 {
		t.Errorf("len(ContainerID) = %d, want about %d", len(l.ContainerID), maxNameLen)
	}
	if !strings.HasPrefix(l.ContainerID, "éé") || strings.ContainsRune(l.ContainerID, '\uFFFD') {
		t.Errorf("name cut inside a rune: %q", l.ContainerID)
	}
	bad := Labels("/lxc.payload.\xff\xfe")
	if bad.ContainerID != "__" {
		t.Errorf("invalid UTF-8 kept: %q", bad.ContainerID)
	}
}
