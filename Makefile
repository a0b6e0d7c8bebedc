# Container targets use Docker Compose; `make test` runs the whole suite locally (as CI does).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: run run-detached stop test build build-test start

run:            ## build and run redis + app in the foreground (http://localhost:8000)
	$(COMPOSE) up --build

run-detached:   ## the same, in the background
	$(COMPOSE) up --build --detach

stop:           ## stop the containers
	$(COMPOSE) down

test:           ## install and run every test (type-check included)
	npm ci && npm test

build:          ## build the runtime image
	$(COMPOSE) build

build-test:     ## build the image's test stage: type-check and tests inside the image
	docker build --target test --tag file-receiver:test .

start:          ## run locally on embedded defaults (no Redis, ./uploaded_files)
	npm ci && npm start
