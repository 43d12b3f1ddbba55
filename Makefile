# herald: one non-recursive Makefile. Outputs go to $(B) (default build/).
#   make            build/herald and build/heraldctl, and layer-check: no
#                   layer calls or includes one above it (see LAYERS)
#   make deps       install the Debian packages herald and its tests need
#   make test       unit + integration tests (prints "N passed, N failed")
#   make asan       the same tests on an AddressSanitizer + UBSan build
#   make integ-workers2  the integration suite with herald on 2 workers
#   make tsan       the tests where threads meet (two loops in one
#                   process, recorder, learner, access-log writer, reload,
#                   workers; herald on 2 workers) on a ThreadSanitizer
#                   build (TSAN_TESTS)
#   make bench      side-by-side benchmarks against nghttpx, h2o, nginx
#   make realsite   hint precision/recall and page loads on a real site
#                   with headless Chromium (tools/bench/realsite.sh, RS_*)
#   make demo       herald in front of the sample legacy site
#   make fuzz       libFuzzer harnesses (clang), each run FUZZ_SECONDS
#   make soak       SOAK_SECONDS of mixed traffic; RSS and descriptors flat
#   make install    binaries, manual pages, config, unit, state directory
#                   (PREFIX, DESTDIR and the *DIR variables below)
#   make uninstall  removes what make install added, and nothing else

B          ?= build
PKGS       := libuv libnghttp2 sqlite3 inih

# Where make install puts things. SYSCONFDIR is also compiled in: herald
# without -c reads $(SYSCONFDIR)/herald/herald.ini, so give the same value
# to make and to make install.
PREFIX        ?= /usr/local
SBINDIR       ?= $(PREFIX)/sbin
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/herald
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR       ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
LOGROTATEDIR  ?= $(SYSCONFDIR)/logrotate.d
# Manual pages: every man/NAME.N in the tree goes to $(MANDIR)/manN.
MANPAGES      ?= $(wildcard man/*.[1-8])
INSTALL       ?= install
BSSL       ?= /usr/lib/x86_64-linux-gnu/android
BSSL_INC   ?= /usr/include/android
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

OPT        ?= -O2
CFLAGS     ?= -g $(OPT)
XCFLAGS    := -std=c11 -D_GNU_SOURCE -I. -I$(BSSL_INC) -I$(LLHTTP_INC) $(SAN) \
              -DCONFIG_DEFAULT_PATH='"$(SYSCONFDIR)/herald/herald.ini"' \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
WFLAGS     := -Wall -Wextra -Werror
LDFLAGS    += $(SAN)

# Layers, lowest first. Each folder is one static archive, $(B)/libDIR.a,
# and code in a layer uses only the layers below it (README.md, "Source
# layout"): base <- config <- store <- learner <- proxy. A binary links the
# archives of its highest layer and those below, highest first, with the
# system libraries those layers use; a call or an #include upward fails
# the build (layer-check below), even if no binary pulls that object.
LAYERS      := base config store learner proxy
BELOW_base    :=
BELOW_config  := base
BELOW_store   := config base
BELOW_learner := store config base
BELOW_proxy   := learner store config base
BSSL_LIBS   := -L$(BSSL) -Wl,-rpath,$(BSSL)
LIBS_base    := -lpthread -lm
LIBS_config  := $(shell pkg-config --libs inih 2>/dev/null)
LIBS_store   := $(shell pkg-config --libs sqlite3 libuv 2>/dev/null)
LIBS_learner := $(shell pkg-config --libs libuv 2>/dev/null) $(BSSL_LIBS) \
                -lcrypto
LIBS_proxy   := $(shell pkg-config --libs libuv libnghttp2 2>/dev/null) \
                $(BSSL_LIBS) -lssl -lcrypto
SRC_base    := $(wildcard base/*.c)
SRC_config  := $(wildcard config/*.c)
SRC_store   := $(wildcard store/*.c)
SRC_learner := $(wildcard learner/*.c)
SRC_proxy   := $(filter-out proxy/main.c,$(wildcard proxy/*.c))
# llhttp's C sources, compiled in (no -dev package ships a library).
LLHTTP_OBJ := $(B)/llhttp/api.o $(B)/llhttp/http.o $(B)/llhttp/llhttp.o
LLHTTP_LIB := $(B)/libllhttp.a
# layer_libs L: the archives of layer L and below, then their system
# libraries (the proxy's llhttp after it).
layer_libs = $(foreach l,$(1) $(BELOW_$(1)),$(B)/lib$(l).a) \
             $(if $(filter proxy,$(1)),$(LLHTTP_LIB))
layer_ldlibs = $(call uniq,$(foreach l,$(1) $(BELOW_$(1)),$(LIBS_$(l))))
uniq = $(if $(1),$(firstword $(1)) $(call uniq,$(filter-out $(firstword $(1)),$(1))))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOLS_BIN  := $(B)/heraldctl $(B)/fault_backend $(B)/h2probe $(B)/relay \
              $(B)/pageload $(B)/connhold

# Fuzz harnesses (tests/fuzz/): sessions and upstreams run on fakes of
# conn.c and pool.c, the two modules that own sockets. Linked from an
# archive so each harness takes only the modules it needs. With clang and
# libFuzzer (make fuzz) they are fuzz_NAME; with the replay main they are
# replay_NAME, which make test runs over the in-tree corpus.
FUZZ_NAMES := h1 h2 response config digest pagekey link
FUZZ_SUPPORT := $(addprefix $(B)/tests/fuzz/,world.o fake_conn.o \
                fake_pool.o fail.o)
FUZZ_LIB   := $(B)/libherald-fuzz.a
REPLAY_BIN := $(FUZZ_NAMES:%=$(B)/replay_%)
FUZZ_CC    ?= clang-14
FUZZ_SAN   := -fsanitize=fuzzer-no-link,address,undefined \
              -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SECONDS ?= 30
SOAK_SECONDS ?= 600

.PHONY: all deps test unit integ integ-workers2 asan tsan bench realsite demo clean check-nghttp2 \
        fuzz fuzz-build fuzz-coverage fuzz-seeds soak install uninstall \
        layer-check
all: $(B)/herald $(B)/heraldctl $(B)/.layers-ok

$(B)/%.o: %.c $(B)/.nghttp2-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) $(WFLAGS) -MMD -MP -c -o $@ $<

# llhttp's generated C is compiled as shipped, without our -Werror. It
# scans header values 16 bytes a step with SSE4.2 when the compiler may
# use it: on by default when the building machine has it (herald is
# built where it runs); LLHTTP_SIMD= turns it off.
LLHTTP_SIMD ?= $(shell grep -qw sse4_2 /proc/cpuinfo 2>/dev/null && \
                 $(CC) -msse4.2 -E -x c /dev/null >/dev/null 2>&1 && \
                 echo -msse4.2)
$(B)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LLHTTP_SIMD) $(SAN) -I$(LLHTTP_INC) -w -c -o $@ $<

# Debian backports the Rapid Reset and CONTINUATION flood fixes into its
# nghttp2 1.52; the version string cannot tell, so link-test the symbols.
$(B)/.nghttp2-ok:
	@mkdir -p $(B)
	@printf '#include <nghttp2/nghttp2.h>\nint main(void){nghttp2_option *o;nghttp2_option_new(&o);nghttp2_option_set_stream_reset_rate_limit(o,1000,33);nghttp2_option_set_max_continuations(o,8);nghttp2_option_del(o);return 0;}\n' > $(B)/nghttp2-check.c
	@$(CC) -o $(B)/nghttp2-check $(B)/nghttp2-check.c $(shell pkg-config --cflags --libs libnghttp2 2>/dev/null) 2>/dev/null || \
	  { echo "error: libnghttp2 lacks nghttp2_option_set_stream_reset_rate_limit / nghttp2_option_set_max_continuations (Rapid Reset / CONTINUATION flood fixes). Install Debian's libnghttp2-dev >= 1.52.0-1+deb12u2 (make deps)." >&2; exit 1; }
	@touch $@

$(foreach l,$(LAYERS),$(eval $(B)/lib$(l).a: $(SRC_$(l):%.c=$(B)/%.o)))
$(LLHTTP_LIB): $(LLHTTP_OBJ)
$(B)/lib%.a:
	rm -f $@
	ar rcs $@ $^

$(B)/herald: $(B)/proxy/main.o $(call layer_libs,proxy)
	$(CC) $(LDFLAGS) -o $@ $^ $(call layer_ldlibs,proxy)

$(B)/heraldctl: $(patsubst %.c,$(B)/%.o,$(wildcard tools/heraldctl.c tools/ctl_*.c)) \
               $(call layer_libs,learner) $(LLHTTP_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(call layer_ldlibs,learner)

$(B)/learnbench: $(B)/tools/bench/learnbench.o $(call layer_libs,learner)
	$(CC) $(LDFLAGS) -o $@ $^ $(call layer_ldlibs,learner)

# The test and benchmark clients use base/ and the libraries they speak.
$(B)/fault_backend: $(B)/tests/integ/fault_backend.o $(B)/libbase.a \
                    $(LLHTTP_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_base) \
	  $(shell pkg-config --libs libuv 2>/dev/null) $(BSSL_LIBS) -lcrypto

$(B)/pageload: $(B)/tools/bench/pageload.o $(B)/tools/bench/netc.o \
               $(B)/libbase.a $(LLHTTP_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_base) \
	  $(shell pkg-config --libs libnghttp2 2>/dev/null) $(BSSL_LIBS) -lssl -lcrypto

$(B)/connhold: $(B)/tools/bench/connhold.o $(B)/tools/bench/netc.o \
               $(B)/libbase.a $(LLHTTP_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_base) \
	  $(shell pkg-config --libs libnghttp2 2>/dev/null) $(BSSL_LIBS) -lssl -lcrypto

$(B)/h2probe: $(B)/tests/integ/h2probe.o $(B)/libbase.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_base) \
	  $(shell pkg-config --libs libnghttp2 2>/dev/null) $(BSSL_LIBS) -lssl -lcrypto

# The relay is a standalone libuv program (no herald modules).
$(B)/relay: $(B)/tools/relay/relay.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libuv 2>/dev/null)

# The fuzz harnesses link the proxy layer without conn.o and pool.o, whose
# fakes take their place, then the layers below.
$(FUZZ_LIB): $(filter-out $(B)/proxy/conn.o $(B)/proxy/pool.o, \
               $(SRC_proxy:%.c=$(B)/%.o)) $(FUZZ_SUPPORT)
	rm -f $@
	ar rcs $@ $^
FUZZ_LIBS := $(FUZZ_LIB) $(filter-out $(B)/libproxy.a,$(call layer_libs,proxy))

$(B)/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(FUZZ_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call layer_ldlibs,proxy)

$(B)/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(FUZZ_LIBS)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call layer_ldlibs,proxy)

# A unit test links the layer of the module it tests and those below:
# UNIT_<layer> names the tests of the lower layers, the rest are proxy's.
UNIT_base    := util buf http client
UNIT_config  := config route
UNIT_store   := store store_rules store_admin
UNIT_learner := attribution audit learn learn_evidence pagekey ruleset
unit_layer = $(firstword $(foreach l,base config store learner,\
               $(if $(filter $(1),$(UNIT_$(l))),$(l))) proxy)
define unit_rule
$(B)/tests/test_$(1): $(B)/tests/unit/test_$(1).o \
                      $(call layer_libs,$(call unit_layer,$(1)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ \
	  $(call layer_ldlibs,$(call unit_layer,$(1))) -lcmocka
endef
# UNIT_FAKES: tests that drive the sessions on the fuzz harnesses' fakes
# of conn.c and pool.c (tests/fuzz/fake.h), linked like a harness.
UNIT_FAKES   := exchange
$(foreach t,$(filter-out $(UNIT_FAKES),$(UNIT_SRC:tests/unit/test_%.c=%)),\
  $(eval $(call unit_rule,$(t))))
$(UNIT_FAKES:%=$(B)/tests/test_%): $(B)/tests/test_%: \
    $(B)/tests/unit/test_%.o $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call layer_ldlibs,proxy) -lcmocka

# layer-check (part of make): each layer's archive linked whole, with
# only the layers below it and a main that does nothing, must leave no
# undefined reference; and no #include "DIR/..." of a layer's folder (or
# of tools/, which sits on the learner) may name a folder above it.
INCLUDES_base    := base
INCLUDES_config  := config base
INCLUDES_store   := store config base
INCLUDES_learner := learner store config base
INCLUDES_proxy   := proxy learner store config base
INCLUDES_tools   := tools learner store config base
empty :=
space := $(empty) $(empty)
layer-check: $(B)/.layers-ok
$(B)/.layers-ok: $(foreach l,$(LAYERS),$(B)/lib$(l).a) $(LLHTTP_LIB) \
                 $(B)/layer-stub.o \
                 $(wildcard $(foreach d,$(LAYERS) tools,$(d)/*.[ch] $(d)/*/*.[ch]))
	@$(foreach d,$(LAYERS) tools,\
	  if grep -rHn --include='*.[ch]' '^#include "[a-z_]*/' $(d) | \
	     grep -vE '#include "($(subst $(space),|,$(INCLUDES_$(d))))/'; then \
	    echo "error: $(d)/ includes from above its layer (it may include" \
	         "$(INCLUDES_$(d)))" >&2; exit 1; fi;)
	@$(foreach l,$(LAYERS),\
	  $(CC) $(LDFLAGS) -o $(B)/layer-check-$(l) $(B)/layer-stub.o \
	    -Wl,--whole-archive $(B)/lib$(l).a -Wl,--no-whole-archive \
	    $(foreach b,$(BELOW_$(l)),$(B)/lib$(b).a) \
	    $(if $(filter proxy,$(l)),$(LLHTTP_LIB)) \
	    $(call layer_ldlibs,$(l)) || \
	  { echo "error: lib$(l).a calls a layer above it (it may use" \
	         "$(or $(BELOW_$(l)),no other layer))" >&2; exit 1; };)
	@rm -f $(foreach l,$(LAYERS),$(B)/layer-check-$(l))
	@touch $@

$(B)/layer-stub.o:
	@mkdir -p $(B)
	@printf 'int main(void) { return 0; }\n' > $(B)/layer-stub.c
	$(CC) $(CFLAGS) $(SAN) -c -o $@ $(B)/layer-stub.c

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  build-essential pkg-config libuv1-dev libnghttp2-dev libsqlite3-dev \
	  android-libboringssl-dev node-llhttp libinih-dev libcmocka-dev chromium \
	  nghttp2-client nghttp2-proxy h2o curl nginx openssl sqlite3 python3 procps \
	  bsdextrautils e2fsprogs iproute2 clang-14 libclang-rt-14-dev llvm-14 \
	  python-scrapy-doc systemd logrotate linux-perf

unit: all $(UNIT_BIN)
integ: all $(TOOLS_BIN) $(REPLAY_BIN)

test: all $(UNIT_BIN) $(TOOLS_BIN) $(REPLAY_BIN)
	@B=$(B) tests/run.sh

# make integ-workers2: the integration suite again with every herald the
# scripts start running two workers (HERALD_WORKERS, tests/integ/lib.sh);
# make test runs it with one.
integ-workers2: all $(TOOLS_BIN) $(REPLAY_BIN)
	@B=$(B) SUITES=integ HERALD_WORKERS=2 tests/run.sh

asan:
	$(MAKE) B=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

# make tsan: ThreadSanitizer over the tests where threads meet: two event
# loops in one process (test_loops), the recorder and learner threads
# (test_record, test_learner, test_evidence), the access-log writer
# (test_logs), reloads handing settings to the learner (test_reload),
# workers handing connections, pools and counters (test_workers), and the
# paths every worker takes into shared state: /metrics and /rules reading
# the workers' counters (test_admin), 103s and pushes posting to the one
# recorder from both workers (test_hints, test_push, test_declared); every
# herald runs two workers.
TSAN_TESTS ?= test_loops|test_record|test_learner|test_evidence|test_logs|test_reload|test_workers|test_admin|test_hints|test_push|test_declared
# A race stops the process at once (exit 66): a unit test fails, and an
# integration test sees herald die and its log name the race.
tsan:
	TESTS='$(TSAN_TESTS)' HERALD_WORKERS=2 TSAN_OPTIONS='halt_on_error=1 $(TSAN_OPTIONS)' \
	  $(MAKE) B=build/tsan OPT=-O1 \
	  SAN="-fsanitize=thread -fno-omit-frame-pointer" test

bench: all $(B)/learnbench $(B)/pageload $(B)/fault_backend $(B)/relay \
       $(B)/connhold
	@B=$(B) tools/bench/bench.sh

# The hint budget sweep behind herald's defaults (README, "Real site");
# RS_SWEEP= (empty) for one run, RS_* as tools/bench/realsite.sh says.
realsite: all $(B)/relay
	@B=$(B) RS_SWEEP="$${RS_SWEEP-defaults; -o learn.hint_budget=1048576; -o learn.hint_budget=524288 -o learn.hint_max_resources=16}" \
	  tools/bench/realsite.sh

demo: all
	@B=$(B) tools/demo/demo.sh

# make fuzz builds every harness with clang in build/fuzz and runs each for
# FUZZ_SECONDS on a copy of its corpus (FUZZ=h1 for one harness).
fuzz:
	$(MAKE) B=build/fuzz CC=$(FUZZ_CC) OPT=-O1 SAN="$(FUZZ_SAN)" fuzz-build
	@B=build/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ)

fuzz-build: $(FUZZ_NAMES:%=$(B)/fuzz_%)

# make fuzz-coverage: the line coverage the corpora of the last make fuzz
# reach, per harness (clang source-based coverage, llvm-cov).
fuzz-coverage:
	$(MAKE) B=build/fuzzcov CC=$(FUZZ_CC) OPT=-O0 \
	  SAN="-fprofile-instr-generate -fcoverage-mapping" \
	  $(FUZZ_NAMES:%=build/fuzzcov/replay_%)
	@B=build/fuzzcov FUZZ_B=build/fuzz tests/fuzz/coverage.sh $(FUZZ)

# make fuzz-seeds rewrites the generated seeds in tests/fuzz/corpus/.
fuzz-seeds: $(B)/fuzz_gen_seeds
	$(B)/fuzz_gen_seeds tests/fuzz/corpus

$(B)/fuzz_gen_seeds: $(B)/tests/fuzz/gen_seeds.o $(FUZZ_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call layer_ldlibs,proxy)

# make soak: tests/soak/soak.sh states what "flat" means.
soak: all $(B)/h2probe
	@B=$(B) SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/soak.sh

# make install: the configuration and the logrotate snippet are the
# operator's once installed, so an existing one is never overwritten (the
# shipped example is always in $(DOCDIR)); the state directory is where
# the systemd unit keeps the database (StateDirectory=herald).
I_ETC    = $(DESTDIR)$(SYSCONFDIR)/herald
I_STATE  = $(DESTDIR)$(LOCALSTATEDIR)/lib/herald
I_UNIT   = $(DESTDIR)$(UNITDIR)/herald.service
UNIT_SED = -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
           -e 's|/etc/herald/|$(SYSCONFDIR)/herald/|g'

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DOCDIR) $(I_ETC) \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(LOGROTATEDIR)
	$(INSTALL) -m 755 $(B)/herald $(B)/heraldctl $(DESTDIR)$(SBINDIR)/
	@set -e; for m in $(MANPAGES); do \
	  d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
	  echo "$(INSTALL) -m 644 $$m $$d/"; \
	  $(INSTALL) -d $$d; $(INSTALL) -m 644 $$m $$d/; done
	$(INSTALL) -m 644 config/herald.ini.example README.md $(DESTDIR)$(DOCDIR)/
	@if [ -e $(I_ETC)/herald.ini ]; then \
	  echo "keeping $(I_ETC)/herald.ini (the example is in $(DOCDIR))"; \
	else echo "$(INSTALL) -m 644 config/herald.ini.example $(I_ETC)/herald.ini"; \
	  $(INSTALL) -m 644 config/herald.ini.example $(I_ETC)/herald.ini; fi
	@if [ -e $(DESTDIR)$(LOGROTATEDIR)/herald ]; then \
	  echo "keeping $(DESTDIR)$(LOGROTATEDIR)/herald"; \
	else echo "$(INSTALL) -m 644 tools/logrotate/herald $(DESTDIR)$(LOGROTATEDIR)/herald"; \
	  $(INSTALL) -m 644 tools/logrotate/herald $(DESTDIR)$(LOGROTATEDIR)/herald; fi
	sed $(UNIT_SED) tools/systemd/herald.service > $(I_UNIT)
	sed $(UNIT_SED) tools/systemd/herald.sysusers > \
	  $(DESTDIR)$(SYSUSERSDIR)/herald.conf
	chmod 644 $(I_UNIT) $(DESTDIR)$(SYSUSERSDIR)/herald.conf
	$(INSTALL) -d -m 750 $(I_STATE)

# make uninstall: a configuration or logrotate snippet that differs from
# what was shipped was edited, and stays; so does a state directory that
# holds a database.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/herald $(DESTDIR)$(SBINDIR)/heraldctl \
	  $(I_UNIT) $(DESTDIR)$(SYSUSERSDIR)/herald.conf \
	  $(DESTDIR)$(DOCDIR)/herald.ini.example $(DESTDIR)$(DOCDIR)/README.md
	@set -e; for m in $(MANPAGES); do \
	  f=$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	  echo "rm -f $$f"; rm -f $$f; done
	@for f in $(I_ETC)/herald.ini:config/herald.ini.example \
	  $(DESTDIR)$(LOGROTATEDIR)/herald:tools/logrotate/herald; do \
	  i=$${f%%:*}; [ -e $$i ] || continue; \
	  if cmp -s $$i $${f#*:}; then echo "rm -f $$i"; rm -f $$i; \
	  else echo "keeping $$i: it was changed"; fi; done
	-rmdir $(DESTDIR)$(DOCDIR) $(I_ETC) 2>/dev/null
	@if rmdir $(I_STATE) 2>/dev/null; then echo "rmdir $(I_STATE)"; \
	elif [ -d $(I_STATE) ]; then echo "keeping $(I_STATE): it is not empty"; fi

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
