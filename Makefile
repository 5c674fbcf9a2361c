# seedsnap — seed a PostgreSQL test database from a demo database.
#
#   make refresh-test-seed-from-demo   export the demo database, then load the test database
#   make export-demo-seed              DEMO_DATABASE_URL -> SEED_DIR
#   make import-demo-seed-to-test      SEED_DIR -> TEST_DATABASE_URL
#   make test                          unit and integration tests (a throwaway cluster)
#   make clean-local-db                remove the throwaway local PostgreSQL (.pg/)
#   make check-config                  check the seeding rules against the demo database
#
# With DEMO_DATABASE_URL / TEST_DATABASE_URL unset, a throwaway PostgreSQL inside the project
# (.pg/) holds the bundled demo database and an empty test database. URLs are passed to seedsnap
# through SEEDSNAP_SOURCE / SEEDSNAP_TARGET, never on its command line, so passwords do not show
# in the process list. ARGS go to every seedsnap call, EXPORT_ARGS to exports, IMPORT_ARGS to
# imports, e.g.  make refresh-test-seed-from-demo EXPORT_ARGS="--limit 50"

SEED_DIR ?= fixtures/snapshot
DEMO_SCALE ?= 0.01
CARGO ?= cargo
SEEDSNAP := $(or $(CARGO_TARGET_DIR),target)/release/seedsnap
LOCAL_PG := scripts/local-pg.sh

export DEMO_SCALE

.PHONY: build export-demo-seed import-demo-seed-to-test refresh-test-seed-from-demo test \
        clean-local-db local-db lint bench graph check-config

build:
	@[ -x $(SEEDSNAP) ] || echo "make: building seedsnap (release): the first build takes a few minutes" >&2
	@$(CARGO) build --release --quiet

# Each recipe resolves its URLs in one shell: the variable when set, else the local database.
define demo_url
$${DEMO_DATABASE_URL:-$$($(LOCAL_PG) ensure >&2 && $(LOCAL_PG) url demo)}
endef
define test_url
$${TEST_DATABASE_URL:-$$($(LOCAL_PG) ensure >&2 && $(LOCAL_PG) url test)}
endef
# The bundled demo's seeding rules (virtual keys, limits, filters) apply to the local demo only;
# with DEMO_DATABASE_URL set, seedsnap reads ./seedsnap.toml or SEEDSNAP_CONFIG, if any.
DEMO_CONFIG := fixtures/demo/seedsnap.toml
define demo_config
$$([ -n "$${DEMO_DATABASE_URL:-}" ] || echo --config $(DEMO_CONFIG))
endef
define test_config
$$([ -n "$${TEST_DATABASE_URL:-}" ] || echo --config $(DEMO_CONFIG))
endef

# The bundled demo config masks personal columns; its key is a throwaway given to the local
# demo only. With DEMO_DATABASE_URL set, SEEDSNAP_MASK_KEY (or the variable your [masking]
# key_env names) must hold your team's own secret.
DEMO_MASK_KEY := seedsnap-local-demo-throwaway-key
define demo_key
$$([ -n "$${DEMO_DATABASE_URL:-}" ] || echo SEEDSNAP_MASK_KEY=$(DEMO_MASK_KEY))
endef

export-demo-seed: build
	@source_url="$(demo_url)" && \
	env $(demo_key) SEEDSNAP_SOURCE="$$source_url" $(SEEDSNAP) export $(demo_config) --dir "$(SEED_DIR)" $(ARGS) $(EXPORT_ARGS)

import-demo-seed-to-test: build
	@target_url="$(test_url)" && \
	SEEDSNAP_TARGET="$$target_url" $(SEEDSNAP) import $(test_config) --dir "$(SEED_DIR)" $(ARGS) $(IMPORT_ARGS)

refresh-test-seed-from-demo: build
	@source_url="$(demo_url)" && target_url="$(test_url)" && \
	env $(demo_key) SEEDSNAP_SOURCE="$$source_url" SEEDSNAP_TARGET="$$target_url" \
	  $(SEEDSNAP) refresh $(demo_config) --dir "$(SEED_DIR)" $(ARGS) $(EXPORT_ARGS) $(IMPORT_ARGS)

check-config: build
	@source_url="$(demo_url)" && \
	SEEDSNAP_SOURCE="$$source_url" $(SEEDSNAP) check-config $(demo_config) $(ARGS)

local-db:
	@$(LOCAL_PG) ensure

clean-local-db:
	@$(LOCAL_PG) clean

test:
	$(CARGO) test --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Benchmarks in the throwaway local cluster; databases are generated once and kept.
# BENCH_ARGS: --runs N, --only demo_0_1,demo_1,demo_10,selfref,wide_1000,wide_3000, --write FILE,
# --compare BIN (a previous build, for before/after rows)
bench: build
	@$(LOCAL_PG) start >&2 && \
	BENCH_CONN="$$($(LOCAL_PG) conn)" BENCH_BINDIR="$$($(LOCAL_PG) bindir)" \
	  $(CARGO) bench --quiet --bench seedsnap-bench -- $(BENCH_ARGS)

# The bundled demo's dependency graph as SVG (Graphviz: apt-get install graphviz).
graph: build
	@command -v dot >/dev/null || { echo "make graph needs Graphviz's dot: sudo apt-get install graphviz" >&2; exit 1; }
	@source_url="$(demo_url)" && \
	SEEDSNAP_SOURCE="$$source_url" $(SEEDSNAP) plan -q $(demo_config) --format dot | dot -Tsvg -o docs/demo-graph.svg && \
	echo "wrote docs/demo-graph.svg"
