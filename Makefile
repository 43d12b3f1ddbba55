# herald: one non-recursive Makefile. Outputs go to $(B) (default build/).
#   make            build/herald and build/heraldctl
#   make deps       install the Debian packages herald and its tests need
#   make test       unit + integration tests (prints "N passed, N failed")
#   make asan       the same tests on an AddressSanitizer + UBSan build
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
LDLIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
              -L$(BSSL) -Wl,-rpath,$(BSSL) -lssl -lcrypto -lpthread -lm
LDFLAGS    += $(SAN)

# Modules shared by herald, heraldctl and the unit tests.
CORE_SRC   := $(wildcard proxy/*.c config/*.c learner/*.c store/*.c)
CORE_SRC   := $(filter-out proxy/main.c,$(CORE_SRC))
CORE_OBJ   := $(CORE_SRC:%.c=$(B)/%.o)
LLHTTP_OBJ := $(B)/llhttp/api.o $(B)/llhttp/http.o $(B)/llhttp/llhttp.o
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOLS_BIN  := $(B)/heraldctl $(B)/fault_backend $(B)/h2probe $(B)/relay \
              $(B)/pageload

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

.PHONY: all deps test unit integ asan bench realsite demo clean check-nghttp2 \
        fuzz fuzz-build fuzz-coverage fuzz-seeds soak install uninstall
all: $(B)/herald $(B)/heraldctl

$(B)/%.o: %.c $(B)/.nghttp2-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) $(WFLAGS) -MMD -MP -c -o $@ $<

# llhttp's generated C is compiled as shipped, without our -Werror.
$(B)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -I$(LLHTTP_INC) -w -c -o $@ $<

# Debian backports the Rapid Reset and CONTINUATION flood fixes into its
# nghttp2 1.52; the version string cannot tell, so link-test the symbols.
$(B)/.nghttp2-ok:
	@mkdir -p $(B)
	@printf '#include <nghttp2/nghttp2.h>\nint main(void){nghttp2_option *o;nghttp2_option_new(&o);nghttp2_option_set_stream_reset_rate_limit(o,1000,33);nghttp2_option_set_max_continuations(o,8);nghttp2_option_del(o);return 0;}\n' > $(B)/nghttp2-check.c
	@$(CC) -o $(B)/nghttp2-check $(B)/nghttp2-check.c $(shell pkg-config --cflags --libs libnghttp2 2>/dev/null) 2>/dev/null || \
	  { echo "error: libnghttp2 lacks nghttp2_option_set_stream_reset_rate_limit / nghttp2_option_set_max_continuations (Rapid Reset / CONTINUATION flood fixes). Install Debian's libnghttp2-dev >= 1.52.0-1+deb12u2 (make deps)." >&2; exit 1; }
	@touch $@

$(B)/herald: $(B)/proxy/main.o $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/heraldctl: $(patsubst %.c,$(B)/%.o,$(wildcard tools/heraldctl.c tools/ctl_*.c)) $(CORE_OBJ) \
               $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/learnbench: $(B)/tools/bench/learnbench.o $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/fault_backend: $(B)/tests/integ/fault_backend.o $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/pageload: $(B)/tools/bench/pageload.o $(B)/tools/bench/netc.o $(CORE_OBJ) \
               $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/connhold: $(B)/tools/bench/connhold.o $(B)/tools/bench/netc.o $(CORE_OBJ) \
               $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/h2probe: $(B)/tests/integ/h2probe.o $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The relay is a standalone libuv program (no herald modules).
$(B)/relay: $(B)/tools/relay/relay.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(FUZZ_LIB): $(filter-out $(B)/proxy/conn.o $(B)/proxy/pool.o,$(CORE_OBJ)) \
             $(FUZZ_SUPPORT) $(LLHTTP_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(FUZZ_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(CORE_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

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

asan:
	$(MAKE) B=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

bench: all $(B)/learnbench $(B)/pageload $(B)/fault_backend $(B)/relay \
       $(B)/connhold
	@B=$(B) tools/bench/bench.sh

realsite: all $(B)/relay
	@B=$(B) tools/bench/realsite.sh

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

$(B)/fuzz_gen_seeds: $(B)/tests/fuzz/gen_seeds.o $(FUZZ_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

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
