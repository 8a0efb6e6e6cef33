/* The container files agree with each other and with the program (the image itself is tested by
 * /work/shared/tools/container-check.sh): one image tag, the project version, everywhere; one uid
 * and gid, 10001, in the Dockerfile and the Kubernetes manifest; a HEALTHCHECK that probes the
 * served config with a timeout longer than the probe's own; no build litter in the context. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kycgate/common.h"
#include "kycgate/probe.h"

static char *slurp_source(const char *rel)
{
	char path[512];
	char *s;

	snprintf(path, sizeof(path), "%s/%s", KG_SOURCE_DIR, rel);
	s = kt_slurp(path, NULL);
	ck_assert_msg(s != NULL, "cannot read %s", path);
	return s;
}

#define ASSERT_HAS(text, needle, file)                                                             \
	ck_assert_msg(strstr(text, needle) != NULL, "%s lacks \"%s\"", file, needle)

START_TEST(one_tag_everywhere)
{
	char *cmake = slurp_source("CMakeLists.txt");
	char *k8s = slurp_source("deploy/kubernetes.yaml");
	char *readme = slurp_source("README.md");

	ASSERT_HAS(cmake, "VERSION " KG_VERSION " ", "CMakeLists.txt");
	ASSERT_HAS(k8s, "image: kycgate:" KG_VERSION "\n", "deploy/kubernetes.yaml");
	ASSERT_HAS(readme, "docker build -t kycgate:" KG_VERSION " .", "README.md");
	ASSERT_HAS(readme, "podman build --format docker -t kycgate:" KG_VERSION " .", "README.md");
	/* No untagged (:latest) build or run. */
	ck_assert_msg(strstr(readme, "-t kycgate ") == NULL, "README.md builds kycgate:latest");
	ck_assert_msg(strstr(readme, ":ro kycgate\n") == NULL, "README.md runs kycgate:latest");
	ck_assert_msg(strstr(readme, "kycgate:latest") == NULL, "README.md names kycgate:latest");
	free(cmake);
	free(k8s);
	free(readme);
}
END_TEST

START_TEST(uid_and_gid_10001)
{
	char *docker = slurp_source("Dockerfile");
	char *k8s = slurp_source("deploy/kubernetes.yaml");

	ASSERT_HAS(docker, "groupadd --system --gid 10001 kycgate", "Dockerfile");
	ASSERT_HAS(docker, "--uid 10001 --gid 10001", "Dockerfile");
	ASSERT_HAS(docker, "\nUSER 10001:10001\n", "Dockerfile");
	ASSERT_HAS(k8s, "runAsUser: 10001\n", "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "runAsGroup: 10001\n", "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "fsGroup: 10001\n", "deploy/kubernetes.yaml");
	free(docker);
	free(k8s);
}
END_TEST

START_TEST(healthcheck_and_build)
{
	char *docker = slurp_source("Dockerfile");
	char *ignore = slurp_source(".dockerignore");
	const char *hc = strstr(docker, "\nHEALTHCHECK ");
	const char *t;

	ck_assert_ptr_nonnull(hc);
	t = strstr(hc, "--timeout=");
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(strtol(t + 10, NULL, 10) * 1000 > KG_PROBE_TIMEOUT_MS,
	              "HEALTHCHECK timeout is not longer than the probe's %ld ms",
	              KG_PROBE_TIMEOUT_MS);
	ASSERT_HAS(hc, "CMD [\"kycgate\", \"--probe\"]\n", "Dockerfile");
	ASSERT_HAS(docker, "RUN KYCGATE_SETUP_BUILD_ONLY=1 scripts/setup.sh\n", "Dockerfile");
	ASSERT_HAS(docker, "strip --strip-unneeded build/kycgate", "Dockerfile");
	/* conf/dev.yaml reads its listen address from KYCGATE_LISTEN; mounted in the image it must
	 * be reachable through a published port, so not on the container's loopback. */
	ASSERT_HAS(docker, "\nENV KYCGATE_LISTEN=0.0.0.0:8080\n", "Dockerfile");
	ASSERT_HAS(ignore, "\ncmake-build*\n", ".dockerignore");
	ASSERT_HAS(ignore, "\ncompile_commands.json\n", ".dockerignore");
	free(docker);
	free(ignore);
}
END_TEST

/* The store's directory (design §10): a volume owned by the image's user, one replica with the
 * Recreate strategy on a PersistentVolumeClaim (SQLite has one writer), the config pointing at it.
 */
START_TEST(store_volume)
{
	char *docker = slurp_source("Dockerfile");
	char *k8s = slurp_source("deploy/kubernetes.yaml");
	char *ignore = slurp_source(".dockerignore");

	ASSERT_HAS(docker, "install -d -m 0700 -o 10001 -g 10001 /var/lib/kycgate", "Dockerfile");
	ASSERT_HAS(docker, "\nVOLUME /var/lib/kycgate\n", "Dockerfile");
	ck_assert_msg(strstr(docker, "\nVOLUME ") > strstr(docker, "install -d -m 0700"),
	              "Dockerfile declares the volume before creating its directory");
	ASSERT_HAS(k8s, "kind: PersistentVolumeClaim\n", "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "  replicas: 1\n", "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "  strategy: {type: Recreate}\n", "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "{name: data, mountPath: /var/lib/kycgate}", "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "persistentVolumeClaim: {claimName: kycgate-data}",
	           "deploy/kubernetes.yaml");
	ASSERT_HAS(k8s, "sqlite: {path: /var/lib/kycgate/kycgate.db}", "deploy/kubernetes.yaml");
	ASSERT_HAS(ignore, "\n*.db\n", ".dockerignore");
	free(docker);
	free(k8s);
	free(ignore);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("deploy");
	TCase *tc = tcase_create("files");
	int failed;

	tcase_add_test(tc, one_tag_everywhere);
	tcase_add_test(tc, uid_and_gid_10001);
	tcase_add_test(tc, healthcheck_and_build);
	tcase_add_test(tc, store_volume);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
